package kubename

import "testing"

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"currency_v1": "currency-v1",
		"Payments_V2": "payments-v2",
		"_api_":       "api",
		"a.b/c":       "a-b-c",
		"api":         "api",
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}

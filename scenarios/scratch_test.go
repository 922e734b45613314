package scenarios

import (
	"fmt"
	"testing"
)

func TestScratch(t *testing.T) {
	s, err := Builtin("retries")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(string(b))
	for _, n := range s.Notes {
		fmt.Println("NOTE", n)
	}
	fmt.Println(BuiltinNames())
}

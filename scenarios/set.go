package scenarios

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// SetKeys lists the knobs Set understands, for --help and error hints.
// VERSION is a version name of the topology, e.g. currency_v2.
var SetKeys = []string{
	"load.duration", "load.rps", "load.connections", "seed",
	"retry.attempts", "retry.retryOn", "retry.perTryTimeout", "retry.backoffBase", "retry.preferNewHost",
	"circuitBreaker.algorithm", "circuitBreaker.interval", "circuitBreaker.errorThreshold", "circuitBreaker.ejectionDuration",
	"timeout.request", "timeout.perTry", "rateLimit.requestsPerSecond",
	"split.VERSION.weight", "fault.abortPercent", "fault.delayPercent", "retryBudget.budgetPercent", "retryBudget.retryRatio",
	"VERSION.errorRate", "VERSION.errorCode", "VERSION.latency.p50", "VERSION.latency.p90", "VERSION.latency.p99",
}

// Set changes one knob of a loaded scenario without editing its file
// (retry.* change the pattern's first retry policy, or the baseline's when
// the pattern has none; the other policy keys the pattern's policy)
// (`meshgym run --set currency_v2.errorRate=30`), then re-validates it.
// Values are read as in scenario files: percentages as 30 or 30%,
// durations as 200ms or 3s. The error names the key and says what is
// accepted. The change is recorded in Notes.
func (s *Scenario) Set(assignment string) error {
	key, value, ok := strings.Cut(assignment, "=")
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	if !ok || key == "" {
		return fmt.Errorf("--set %q: want KEY=VALUE, e.g. currency_v2.errorRate=30", assignment)
	}
	bad := func(want string) error {
		return fmt.Errorf("--set %s: %s is not %s", key, quote(value), want)
	}
	dur := func(d *Duration) error {
		if err := d.UnmarshalText([]byte(value)); err != nil || *d < 0 {
			return bad("a duration such as 200ms or 3s")
		}
		return nil
	}
	num := func() (float64, error) {
		f, err := strconv.ParseFloat(strings.TrimSuffix(value, "%"), 64)
		if err != nil {
			return 0, bad("a number")
		}
		return f, nil
	}
	retry := func() (*RetryPolicy, error) {
		switch {
		case len(s.Pattern.Retries) > 0:
			return &s.Pattern.Retries[0], nil
		case len(s.Baseline.Retries) > 0:
			return &s.Baseline.Retries[0], nil
		}
		return nil, fmt.Errorf("--set %s: this scenario's pattern (%s) has no retry policy", key, s.Pattern.Kind)
	}
	var err error
	switch key {
	case "load.duration":
		err = dur(&s.Load.Duration)
	case "load.rps":
		s.Load.RPS, err = num()
	case "load.connections":
		var n int
		n, err = strconv.Atoi(value)
		if err != nil {
			err = bad("a whole number")
		}
		s.Load.Connections = n
	case "seed":
		s.Seed, err = strconv.ParseInt(value, 10, 64)
		if err != nil {
			err = bad("a whole number")
		}
	case "retry.attempts", "retry.retryOn", "retry.perTryTimeout", "retry.backoffBase", "retry.preferNewHost":
		var r *RetryPolicy
		if r, err = retry(); err != nil {
			return err
		}
		switch key {
		case "retry.attempts":
			r.Attempts, err = strconv.Atoi(value)
			if err != nil {
				err = bad("a whole number")
			}
		case "retry.retryOn":
			r.RetryOn = strings.Split(value, ",")
			for i := range r.RetryOn {
				r.RetryOn[i] = strings.TrimSpace(r.RetryOn[i])
			}
		case "retry.perTryTimeout":
			err = dur(&r.PerTryTimeout)
		case "retry.backoffBase":
			err = dur(&r.BackoffBase)
		case "retry.preferNewHost":
			r.PreferNewHost, err = strconv.ParseBool(value)
			if err != nil {
				err = bad("true or false")
			}
		}
	case "circuitBreaker.algorithm", "circuitBreaker.interval", "circuitBreaker.errorThreshold", "circuitBreaker.ejectionDuration":
		cb := s.Pattern.CircuitBreaker
		if cb == nil {
			return fmt.Errorf("--set %s: this scenario's pattern (%s) has no circuit breaker", key, s.Pattern.Kind)
		}
		switch key {
		case "circuitBreaker.algorithm":
			cb.Algorithm = value
		case "circuitBreaker.interval":
			err = dur(&cb.Interval)
		case "circuitBreaker.errorThreshold":
			cb.ErrorThreshold, err = strconv.Atoi(value)
			if err != nil {
				err = bad("a whole number")
			}
		default:
			err = dur(&cb.EjectionDuration)
		}
	case "fault.abortPercent", "fault.delayPercent":
		f := s.Pattern.Fault
		switch {
		case f == nil:
			return fmt.Errorf("--set %s: this scenario's pattern (%s) has no fault injection", key, s.Pattern.Kind)
		case key == "fault.abortPercent" && f.Abort == nil:
			return fmt.Errorf("--set %s: this scenario's fault injection has no abort; add fault.abort to the file", key)
		case key == "fault.delayPercent" && f.Delay == nil:
			return fmt.Errorf("--set %s: this scenario's fault injection has no delay; add fault.delay to the file", key)
		case key == "fault.abortPercent":
			f.Abort.Percent, err = num()
		default:
			f.Delay.Percent, err = num()
		}
	case "retryBudget.budgetPercent", "retryBudget.retryRatio":
		if len(s.Pattern.RetryBudgets) == 0 {
			return fmt.Errorf("--set %s: this scenario's pattern (%s) has no retry budget", key, s.Pattern.Kind)
		}
		// Every budget of the pattern (a scenario may cap retries at
		// several hops, as retry-budgets does): one knob, one size.
		var v float64
		if v, err = num(); err == nil {
			for i := range s.Pattern.RetryBudgets {
				if key == "retryBudget.budgetPercent" {
					s.Pattern.RetryBudgets[i].BudgetPercent = v
				} else {
					s.Pattern.RetryBudgets[i].RetryRatio = v
				}
			}
		}
	case "timeout.request", "timeout.perTry":
		tp := s.Pattern.Timeout
		if tp == nil {
			return fmt.Errorf("--set %s: this scenario's pattern (%s) has no timeout", key, s.Pattern.Kind)
		}
		if key == "timeout.request" {
			err = dur(&tp.Request)
		} else {
			err = dur(&tp.PerTry)
		}
	case "rateLimit.requestsPerSecond":
		if s.Pattern.RateLimit == nil {
			return fmt.Errorf("--set %s: this scenario's pattern (%s) has no rate limit", key, s.Pattern.Kind)
		}
		s.Pattern.RateLimit.RequestsPerSecond, err = num()
	default:
		if rest, ok := strings.CutPrefix(key, "split."); ok {
			if err := s.setWeight(key, rest, value); err != nil {
				return err
			}
			break
		}
		ver, field, _ := strings.Cut(key, ".")
		v := s.version(ver)
		if v == nil || field == "" {
			return fmt.Errorf("--set %s: unknown key; known keys: %s (versions here: %s)", key, strings.Join(SetKeys, ", "), strings.Join(s.versionNames(), ", "))
		}
		switch field {
		case "errorRate":
			v.ErrorRate, err = num()
		case "errorCode":
			v.ErrorCode, err = strconv.Atoi(value)
			if err != nil {
				err = bad("an HTTP status code")
			}
		case "latency.p50":
			err = dur(&v.Latency.P50)
		case "latency.p90":
			err = dur(&v.Latency.P90)
		case "latency.p99":
			err = dur(&v.Latency.P99)
		default:
			return fmt.Errorf("--set %s: unknown field %s of %s; use errorRate, errorCode or latency.p50/p90/p99", key, quote(field), ver)
		}
	}
	if err != nil {
		return err
	}
	if verr := s.Validate(); verr != nil {
		return fmt.Errorf("--set %s: %v", assignment, verr)
	}
	s.Notes = append(s.Notes, "--set "+key+"="+value)
	return nil
}

// setWeight sets split.VERSION.weight. With two targets the other one
// gets the rest (100 − w), so weights keep summing to 100.
func (s *Scenario) setWeight(key, rest, value string) error {
	sp := s.Pattern.Split
	if sp == nil {
		return fmt.Errorf("--set %s: this scenario's pattern (%s) has no traffic split", key, s.Pattern.Kind)
	}
	ver, ok := strings.CutSuffix(rest, ".weight")
	i := slices.IndexFunc(sp.Targets, func(t WeightedTarget) bool { return t.Version == ver })
	if !ok || i < 0 {
		var names []string
		for _, t := range sp.Targets {
			names = append(names, "split."+t.Version+".weight")
		}
		return fmt.Errorf("--set %s: unknown key; this split has %s", key, strings.Join(names, ", "))
	}
	w, err := strconv.ParseFloat(strings.TrimSuffix(value, "%"), 64)
	if err != nil || w < 0 || w > 100 {
		return fmt.Errorf("--set %s: %s is not a weight from 0 to 100", key, quote(value))
	}
	sp.Targets[i].Weight = w
	if len(sp.Targets) == 2 {
		sp.Targets[1-i].Weight = 100 - w
	}
	return nil
}

func (s *Scenario) version(name string) *Version {
	for i := range s.Topology.Services {
		for j := range s.Topology.Services[i].Versions {
			if s.Topology.Services[i].Versions[j].Name == name {
				return &s.Topology.Services[i].Versions[j]
			}
		}
	}
	return nil
}

func (s *Scenario) versionNames() []string {
	var out []string
	for _, svc := range s.Topology.Services {
		for _, v := range svc.Versions {
			out = append(out, v.Name)
		}
	}
	return out
}

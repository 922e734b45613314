package sampleapps

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Error types accepted in [Options.ErrorType] (fake-service's ERROR_TYPE).
const (
	// ErrorTypeHTTP answers an injected error at once with ErrorCode.
	ErrorTypeHTTP = "http_error"
	// ErrorTypeDelay waits ErrorDelay, then answers with ErrorCode (as
	// fake-service's errors.Injector does).
	ErrorTypeDelay = "delay"
)

// Options configures one sample service instance. The zero value is not
// useful; start from [DefaultOptions], [OptionsFromEnv] or [LoadOptions].
type Options struct {
	// Name is the service name reported in the response's "name" field
	// (env NAME, flag --name). Default "Service".
	Name string
	// Message is returned as the response's "body": a JSON value when it
	// starts with "{", otherwise a JSON string (env MESSAGE, flag --message).
	// Default "Hello World".
	Message string
	// ListenAddr is the TCP host:port to listen on (env LISTEN_ADDR, flag
	// --listen). Default "127.0.0.1:9090".
	ListenAddr string
	// UpstreamURIs are http:// or https:// URLs called with GET on every
	// request, all in parallel (env UPSTREAM_URIS as a comma list, flag
	// --upstream, repeatable). Default none.
	UpstreamURIs []string
	// Timing50 is the median service time (env TIMING_50_PERCENTILE, flag
	// --timing-50). The service time includes the time spent on upstream
	// calls, as in fake-service: the app sleeps only what remains. Default 0.
	Timing50 time.Duration
	// Timing90 is the 90th percentile service time (env TIMING_90_PERCENTILE,
	// flag --timing-90); 0 means Timing50.
	Timing90 time.Duration
	// Timing99 is the 99th percentile service time (env TIMING_99_PERCENTILE,
	// flag --timing-99); 0 means Timing90.
	Timing99 time.Duration
	// TimingVariance adds to each service time a random 0..TimingVariance-1
	// percent of it (env TIMING_VARIANCE, flag --timing-variance), in
	// percent, 0..1000. Default 0.
	TimingVariance int
	// ErrorRate is the probability (a fraction 0..1, like fake-service's
	// ERROR_RATE; 0.3 means 30 %) that a request gets an injected error
	// (env ERROR_RATE, flag --error-rate). Default 0.
	ErrorRate float64
	// ErrorCode is the HTTP status of an injected error, 100..599 (env
	// ERROR_CODE, flag --error-code). Default 500.
	ErrorCode int
	// ErrorType is ErrorTypeHTTP or ErrorTypeDelay (env ERROR_TYPE, flag
	// --error-type). Default ErrorTypeHTTP.
	ErrorType string
	// ErrorDelay is how long an ErrorTypeDelay error waits before answering
	// (env ERROR_DELAY, flag --error-delay). Default 0.
	ErrorDelay time.Duration
	// RateLimitRPS limits the requests served per second, with a burst of
	// max(1, RateLimitRPS) requests; excess requests get RateLimitCode
	// (env RATE_LIMIT, flag --rate-limit). 0 means no limit.
	RateLimitRPS float64
	// RateLimitCode is the HTTP status of a rate-limited request, 100..599
	// (env RATE_LIMIT_CODE, flag --rate-limit-code). Default 429.
	RateLimitCode int
	// Seed seeds the error-injection stream (env SEED, flag --seed). The
	// stream is selected by Seed and Name together, so services sharing a
	// seed still fail independently; give replicas of one service
	// different seeds. Default 0.
	Seed int64
	// UpstreamTimeout bounds each upstream call, connection to last body
	// byte (env HTTP_CLIENT_REQUEST_TIMEOUT, flag --upstream-timeout).
	// 0 means no limit. Default 30s, as fake-service.
	UpstreamTimeout time.Duration
}

// DefaultOptions returns the defaults listed on each [Options] field.
func DefaultOptions() Options {
	return Options{
		Name:            "Service",
		Message:         "Hello World",
		ListenAddr:      "127.0.0.1:9090",
		ErrorCode:       500,
		ErrorType:       ErrorTypeHTTP,
		RateLimitCode:   429,
		UpstreamTimeout: 30 * time.Second,
	}
}

// Validate reports the first invalid field, naming it. An empty ListenAddr
// is accepted (a [Server] does not listen by itself). [NewServer] calls
// Validate after filling the zero defaults it documents.
func (o Options) Validate() error {
	if o.Name == "" {
		return errors.New("Name: must not be empty")
	}
	if _, _, err := net.SplitHostPort(o.ListenAddr); o.ListenAddr != "" && err != nil {
		return fmt.Errorf("ListenAddr %q: want host:port", o.ListenAddr)
	}
	for _, u := range o.UpstreamURIs {
		if err := checkUpstream(u); err != nil {
			return fmt.Errorf("UpstreamURIs %q: %v", u, err)
		}
	}
	for _, d := range []struct {
		n string
		v time.Duration
	}{{"Timing50", o.Timing50}, {"Timing90", o.Timing90}, {"Timing99", o.Timing99},
		{"ErrorDelay", o.ErrorDelay}, {"UpstreamTimeout", o.UpstreamTimeout}} {
		if d.v < 0 {
			return fmt.Errorf("%s %v: must not be negative", d.n, d.v)
		}
	}
	if err := checkVariance(o.TimingVariance); err != nil {
		return fmt.Errorf("TimingVariance %d: %v", o.TimingVariance, err)
	}
	if err := checkRate(o.ErrorRate); err != nil {
		return fmt.Errorf("ErrorRate %v: %v", o.ErrorRate, err)
	}
	if err := checkCode(o.ErrorCode); err != nil {
		return fmt.Errorf("ErrorCode %d: %v", o.ErrorCode, err)
	}
	if err := checkErrorType(o.ErrorType); err != nil {
		return fmt.Errorf("ErrorType %q: %v", o.ErrorType, err)
	}
	if err := checkRPS(o.RateLimitRPS); err != nil {
		return fmt.Errorf("RateLimitRPS %v: %v", o.RateLimitRPS, err)
	}
	if o.RateLimitRPS > 0 {
		if err := checkCode(o.RateLimitCode); err != nil {
			return fmt.Errorf("RateLimitCode %d: %v", o.RateLimitCode, err)
		}
	}
	return nil
}

// knob is one setting reachable by an environment variable and a flag.
type knob struct {
	env, flag, usage string
	set              func(o *Options, v string) error
}

var knobs = []knob{
	{"NAME", "name", "service name reported in responses", func(o *Options, v string) error {
		if v == "" {
			return errors.New("must not be empty")
		}
		o.Name = v
		return nil
	}},
	{"MESSAGE", "message", "response body (JSON when it starts with '{')", func(o *Options, v string) error {
		o.Message = v
		return nil
	}},
	{"LISTEN_ADDR", "listen", "host:port to listen on", func(o *Options, v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return errors.New("want host:port, e.g. 127.0.0.1:9090")
		}
		o.ListenAddr = v
		return nil
	}},
	{"UPSTREAM_URIS", "upstream", "upstream http URL to call; repeatable or comma-separated", func(o *Options, v string) error {
		uris := splitURIs(v)
		for _, u := range uris {
			if err := checkUpstream(u); err != nil {
				return fmt.Errorf("%s: %v", u, err)
			}
		}
		o.UpstreamURIs = uris
		return nil
	}},
	{"TIMING_50_PERCENTILE", "timing-50", "median service time, e.g. 20ms", durationSetter(func(o *Options) *time.Duration { return &o.Timing50 })},
	{"TIMING_90_PERCENTILE", "timing-90", "90th percentile service time (default: timing-50)", durationSetter(func(o *Options) *time.Duration { return &o.Timing90 })},
	{"TIMING_99_PERCENTILE", "timing-99", "99th percentile service time (default: timing-90)", durationSetter(func(o *Options) *time.Duration { return &o.Timing99 })},
	{"TIMING_VARIANCE", "timing-variance", "random extra service time, percent 0..1000", func(o *Options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("not an integer percent, e.g. 10")
		}
		if err := checkVariance(n); err != nil {
			return err
		}
		o.TimingVariance = n
		return nil
	}},
	{"ERROR_RATE", "error-rate", "probability of an injected error, fraction 0..1 (0.3 = 30%)", func(o *Options, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return errors.New("not a number; want a fraction 0..1, e.g. 0.3")
		}
		if err := checkRate(f); err != nil {
			return err
		}
		o.ErrorRate = f
		return nil
	}},
	{"ERROR_CODE", "error-code", "HTTP status of an injected error", codeSetter(func(o *Options) *int { return &o.ErrorCode })},
	{"ERROR_TYPE", "error-type", "http_error | delay", func(o *Options, v string) error {
		if err := checkErrorType(v); err != nil {
			return err
		}
		o.ErrorType = v
		return nil
	}},
	{"ERROR_DELAY", "error-delay", "wait before answering a 'delay' error, e.g. 1s", durationSetter(func(o *Options) *time.Duration { return &o.ErrorDelay })},
	{"RATE_LIMIT", "rate-limit", "requests per second served before answering rate-limit-code (0 = off)", func(o *Options, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return errors.New("not a number of requests per second, e.g. 100")
		}
		if err := checkRPS(f); err != nil {
			return err
		}
		o.RateLimitRPS = f
		return nil
	}},
	{"RATE_LIMIT_CODE", "rate-limit-code", "HTTP status of a rate-limited request", codeSetter(func(o *Options) *int { return &o.RateLimitCode })},
	{"SEED", "seed", "seed of the error-injection stream (with the name)", func(o *Options, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errors.New("not a 64-bit integer")
		}
		o.Seed = n
		return nil
	}},
	{"HTTP_CLIENT_REQUEST_TIMEOUT", "upstream-timeout", "timeout of each upstream call, e.g. 30s (0 = none)", durationSetter(func(o *Options) *time.Duration { return &o.UpstreamTimeout })},
}

// OptionsFromEnv returns [DefaultOptions] overridden by the fake-service
// environment variables found through getenv (an empty value counts as
// unset). An invalid value gives an error naming the variable, e.g.
// `ERROR_RATE="1.5": must be a fraction between 0 and 1`.
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	o := DefaultOptions()
	for _, k := range knobs {
		v := getenv(k.env)
		if v == "" {
			continue
		}
		if err := k.set(&o, strings.TrimSpace(v)); err != nil {
			return o, fmt.Errorf("%s=%q: %v", k.env, v, err)
		}
	}
	return o, nil
}

// LoadOptions is [OptionsFromEnv] followed by the command-line flags in args
// (without the program name), which override the environment. The first
// --upstream replaces UPSTREAM_URIS, further ones add to it. Errors name the
// variable or the flag; -h/--help returns [flag.ErrHelp].
func LoadOptions(getenv func(string) string, args []string) (Options, error) {
	o, _, err := parseCommandLine(getenv, args, io.Discard)
	return o, err
}

// cliExtras holds command-line settings that are not service options.
type cliExtras struct {
	noStdinWatch bool
}

func parseCommandLine(getenv func(string) string, args []string, usage io.Writer) (Options, cliExtras, error) {
	var ex cliExtras
	o, err := OptionsFromEnv(getenv)
	if err != nil {
		return o, ex, err
	}
	fs := flag.NewFlagSet("meshgym-app", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var ferr error
	upstreamSeen := false
	for _, k := range knobs {
		fs.Func(k.flag, k.usage+" (env "+k.env+")", func(v string) error {
			var e error
			if k.flag == "upstream" {
				var tmp Options
				if e = k.set(&tmp, v); e == nil {
					if upstreamSeen {
						o.UpstreamURIs = append(o.UpstreamURIs, tmp.UpstreamURIs...)
					} else {
						o.UpstreamURIs = tmp.UpstreamURIs
					}
					upstreamSeen = true
				}
			} else {
				e = k.set(&o, v)
			}
			if e != nil && ferr == nil {
				ferr = fmt.Errorf("--%s %q: %v", k.flag, v, e)
			}
			return e
		})
	}
	fs.BoolVar(&ex.noStdinWatch, "no-stdin-watch", false, "keep running when stdin reaches EOF (stdin is never watched when it is a terminal or /dev/null)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(usage)
			fmt.Fprintln(usage, "usage: meshgym-app [flags]   (flags override fake-service's environment variables)")
			fs.PrintDefaults()
			return o, ex, err
		}
		if ferr != nil {
			return o, ex, ferr
		}
		return o, ex, errors.New(strings.Replace(err.Error(), " -", " --", 1))
	}
	if fs.NArg() > 0 {
		return o, ex, fmt.Errorf("unexpected argument %q (all settings are --flags)", fs.Arg(0))
	}
	return o, ex, nil
}

func durationSetter(field func(*Options) *time.Duration) func(*Options, string) error {
	return func(o *Options, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("not a duration; want e.g. 20ms or 1.5s")
		}
		if d < 0 {
			return errors.New("must not be negative")
		}
		*field(o) = d
		return nil
	}
}

func codeSetter(field func(*Options) *int) func(*Options, string) error {
	return func(o *Options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("not an HTTP status code, e.g. 503")
		}
		if err := checkCode(n); err != nil {
			return err
		}
		*field(o) = n
		return nil
	}
}

func splitURIs(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func checkUpstream(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http:// or https:// URL with a host, e.g. http://127.0.0.1:9091 (gRPC upstreams are not supported)")
	}
	return nil
}

func checkRate(f float64) error {
	if math.IsNaN(f) || f < 0 || f > 1 {
		return errors.New("must be a fraction between 0 and 1 (0.3 = 30%)")
	}
	return nil
}

func checkRPS(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return errors.New("must be a number of requests per second >= 0")
	}
	return nil
}

func checkCode(n int) error {
	if n < 100 || n > 599 {
		return errors.New("must be an HTTP status code between 100 and 599")
	}
	return nil
}

func checkVariance(n int) error {
	if n < 0 || n > 1000 {
		return errors.New("must be a percent between 0 and 1000")
	}
	return nil
}

func checkErrorType(s string) error {
	if s != ErrorTypeHTTP && s != ErrorTypeDelay {
		return fmt.Errorf("must be %q or %q", ErrorTypeHTTP, ErrorTypeDelay)
	}
	return nil
}

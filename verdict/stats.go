package verdict

import "math"

// Z95 is the two-sided 95% standard normal quantile, Φ⁻¹(0.975).
const Z95 = 1.959963984540054

// YamaneE is the margin of error the book uses with Yamane's formula (5%).
const YamaneE = 0.05

// Wilson returns the Wilson score interval (Wilson 1927) for a binomial
// proportion with x successes out of n trials at normal quantile z, as
// fractions in [0, 1]:
//
//	centre = (p̂ + z²/2n) / (1 + z²/n)
//	half   = z / (1 + z²/n) · √(p̂(1−p̂)/n + z²/4n²)
//
// Unlike the normal (Wald) interval it stays inside [0, 1] and is sound for
// shares near 0% and 100%. With n ≤ 0 it returns [0, 1].
// E. B. Wilson, "Probable inference, the law of succession, and statistical
// inference", J. Am. Stat. Assoc. 22 (1927) 209–212.
func Wilson(x, n, z float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	p := x / n
	z2 := z * z
	den := 1 + z2/n
	centre := (p + z2/(2*n)) / den
	half := z / den * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	lo, hi = math.Max(0, centre-half), math.Min(1, centre+half)
	if x <= 0 {
		lo = 0
	}
	if x >= n {
		hi = 1
	}
	return lo, hi
}

// Wilson95 is Wilson at 95% confidence (z = Z95).
func Wilson95(x, n float64) (lo, hi float64) { return Wilson(x, n, Z95) }

// Yamane returns Yamane's sample size n = N / (1 + N·e²) for a population
// of N and a margin of error e (a fraction, e.g. 0.05): how many requests
// the book says are enough to estimate a share within ±e. N = 10000,
// e = 0.05 gives 384.6. It assumes p = 0.5 and 95% confidence.
// T. Yamane, Statistics: An Introductory Analysis, 2nd ed., Harper & Row
// (1967).
func Yamane(N, e float64) float64 {
	if N <= 0 {
		return 0
	}
	return N / (1 + N*e*e)
}

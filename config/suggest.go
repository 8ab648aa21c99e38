package config

import (
	"strconv"
	"strings"
)

// suggest returns the candidate nearest to name, or "" when none is close
// enough to be a likely misspelling. Close means at most two edits (an
// adjacent swap counts as one) or at most a third of the name's length, or
// one name contains the other.
func suggest(name string, candidates []string) string {
	best, bestDist := "", -1
	lower := strings.ToLower(name)
	for _, c := range candidates {
		d := editDistance(lower, strings.ToLower(c))
		if d == 0 {
			return c
		}
		if d > 2 && 3*d > len(name) {
			continue
		}
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	if best != "" || len(name) < 4 {
		return best
	}
	for _, c := range candidates {
		lc := strings.ToLower(c)
		if strings.Contains(lc, lower) || len(lc) >= 4 && strings.Contains(lower, lc) {
			return c
		}
	}
	return ""
}

// didYouMean returns `; did you mean "x"?` when suggest finds a candidate,
// else "".
func didYouMean(name string, candidates []string) string {
	if s := suggest(name, candidates); s != "" {
		return "; did you mean " + strconv.Quote(s) + "?"
	}
	return ""
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of adjacent bytes each cost one.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

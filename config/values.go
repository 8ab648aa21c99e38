package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// kind is the type of a setting's value. Parsers return a string, bool, int,
// int64 (sizes), time.Duration, []string or map[string]string for the kinds
// below, in that order.
type kind int

const (
	kindString kind = iota
	kindBool
	kindInt
	kindSize
	kindDuration
	kindList
	kindMap // handler env, only in the file
)

const durationExample = `such as "250ms", "30s", "5m" or "1h30m"`

var (
	errInteger = errors.New("must be an integer")
	errBool    = errors.New("must be true or false")
	errString  = errors.New("must be a string")
)

// parseText parses the value of a flag or variable. A list is
// comma-separated; spaces around items and empty items are dropped.
func parseText(k kind, raw string) (any, error) {
	switch k {
	case kindString:
		return raw, nil
	case kindBool:
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return nil, errBool
		}
		return b, nil
	case kindInt:
		return parseInt(raw)
	case kindSize:
		return parseSize(raw)
	case kindDuration:
		return parseDuration(raw)
	case kindList:
		return splitList(raw), nil
	}
	return nil, fmt.Errorf("kind %d has no text form", k)
}

func parseInt(raw string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("must be an integer between %d and %d", math.MinInt, math.MaxInt)
	}
	if err != nil {
		return 0, errInteger
	}
	return n, nil
}

func parseDuration(raw string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(raw))
	if err != nil {
		return 0, fmt.Errorf("must be a duration %s: %w", durationExample, err)
	}
	return d, nil
}

func splitList(raw string) []string {
	items := []string{}
	for item := range strings.SplitSeq(raw, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// parseCty converts a value from the file. The caller skips null values.
// Strings convert to numbers and bools the way HCL converts them, so
// population = "8" is 8, but a duration must be a string because a bare
// number has no unit.
func parseCty(k kind, v cty.Value) (any, error) {
	if !v.IsWhollyKnown() {
		return nil, errors.New("must be a constant value")
	}
	switch k {
	case kindString:
		return ctyString(v)
	case kindBool:
		b, err := convert.Convert(v, cty.Bool)
		if err != nil || b.IsNull() {
			return nil, errBool
		}
		return b.True(), nil
	case kindInt:
		n, err := ctyInt(v)
		if err != nil {
			return nil, err
		}
		if n < math.MinInt || n > math.MaxInt {
			return nil, fmt.Errorf("must be an integer between %d and %d", math.MinInt, math.MaxInt)
		}
		return int(n), nil
	case kindSize:
		return ctySize(v)
	case kindDuration:
		return ctyDuration(v)
	case kindList:
		return ctyList(v)
	case kindMap:
		return ctyMap(v)
	}
	return nil, fmt.Errorf("kind %d has no file form", k)
}

func ctyString(v cty.Value) (string, error) {
	s, err := convert.Convert(v, cty.String)
	if err != nil || s.IsNull() {
		return "", errString
	}
	return s.AsString(), nil
}

func ctyInt(v cty.Value) (int64, error) {
	n, err := convert.Convert(v, cty.Number)
	if err != nil || n.IsNull() {
		return 0, errInteger
	}
	f := n.AsBigFloat()
	if !f.IsInt() {
		return 0, errInteger
	}
	i, acc := f.Int64()
	if acc != big.Exact {
		return 0, fmt.Errorf("must be an integer between %d and %d", int64(math.MinInt64), int64(math.MaxInt64))
	}
	return i, nil
}

func ctySize(v cty.Value) (int64, error) {
	if v.Type() == cty.String {
		return parseSize(v.AsString())
	}
	if v.Type() != cty.Number {
		return 0, errors.New(sizeRule)
	}
	n, err := ctyInt(v)
	if err != nil {
		return 0, errors.New(sizeRule)
	}
	return n, nil
}

func ctyDuration(v cty.Value) (time.Duration, error) {
	if v.Type() == cty.Number {
		return 0, fmt.Errorf("must be a duration string with a unit, %s; a bare number has no unit", durationExample)
	}
	s, err := ctyString(v)
	if err != nil {
		return 0, fmt.Errorf("must be a duration string %s", durationExample)
	}
	return parseDuration(s)
}

func ctyList(v cty.Value) ([]string, error) {
	if !v.Type().IsListType() && !v.Type().IsTupleType() && !v.Type().IsSetType() {
		return nil, errors.New(`must be a list of strings such as ["a", "b"]`)
	}
	items := []string{}
	for i, elem := range v.AsValueSlice() {
		s, err := ctyString(elem)
		if err != nil {
			return nil, fmt.Errorf(`must be a list of strings such as ["a", "b"]: item %d %w`, i+1, err)
		}
		items = append(items, s)
	}
	return items, nil
}

func ctyMap(v cty.Value) (map[string]string, error) {
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		return nil, errors.New(`must be a map of strings such as { NAME = "value" }`)
	}
	elems := v.AsValueMap()
	m := make(map[string]string, len(elems))
	for _, key := range slices.Sorted(maps.Keys(elems)) {
		s, err := ctyString(elems[key])
		if err != nil {
			return nil, fmt.Errorf(`must be a map of strings such as { NAME = "value" }: %s %w`, key, err)
		}
		m[key] = s
	}
	return m, nil
}

// formatDuration writes d without the zero tails of time.Duration.String:
// "10m" for 10m0s, "24h" for 24h0m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

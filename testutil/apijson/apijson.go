// Package apijson reads the JSON answers of the status APIs in tests the way
// a client sees them: numbers stay json.Number, so a number must be a number
// and a string a string, and each accessor fails the test on the wrong type.
package apijson

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// Object is a decoded JSON object.
type Object map[string]any

// Decode decodes body, which must be one JSON object.
func Decode(t testing.TB, body string) Object {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(body))
	d.UseNumber()
	var o Object
	if err := d.Decode(&o); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	return o
}

// Num reads a number.
func (o Object) Num(t testing.TB, k string) float64 {
	t.Helper()
	n, ok := o[k].(json.Number)
	if !ok {
		t.Fatalf("%s is %T (%v), want a number", k, o[k], o[k])
	}
	f, err := n.Float64()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Str reads a string.
func (o Object) Str(t testing.TB, k string) string {
	t.Helper()
	s, ok := o[k].(string)
	if !ok {
		t.Fatalf("%s is %T (%v), want a string", k, o[k], o[k])
	}
	return s
}

// Time reads an RFC 3339 time in UTC; null gives the zero time.
func (o Object) Time(t testing.TB, k string) time.Time {
	t.Helper()
	if o[k] == nil {
		return time.Time{}
	}
	s := o.Str(t, k)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !strings.HasSuffix(s, "Z") {
		t.Fatalf("%s = %q is not an RFC 3339 UTC time: %v", k, s, err)
	}
	return at
}

// Obj reads an object.
func (o Object) Obj(t testing.TB, k string) Object {
	t.Helper()
	m, ok := o[k].(map[string]any)
	if !ok {
		t.Fatalf("%s is %T, want an object", k, o[k])
	}
	return Object(m)
}

// List reads a list, which must not be null.
func (o Object) List(t testing.TB, k string) []any {
	t.Helper()
	l, ok := o[k].([]any)
	if !ok {
		t.Fatalf("%s is %T (%v), want a list (never null)", k, o[k], o[k])
	}
	return l
}

// Objects reads a list of objects.
func (o Object) Objects(t testing.TB, k string) []Object {
	t.Helper()
	raw := o.List(t, k)
	out := make([]Object, len(raw))
	for i, x := range raw {
		m, ok := x.(map[string]any)
		if !ok {
			t.Fatalf("%s[%d] is %T, want an object", k, i, x)
		}
		out[i] = Object(m)
	}
	return out
}

// CheckFields fails the test unless the object's keys are exactly want.
func (o Object) CheckFields(t testing.TB, what string, want []string) {
	t.Helper()
	got := make([]string, 0, len(o))
	for k := range o {
		got = append(got, k)
	}
	slices.Sort(got)
	w := slices.Sorted(slices.Values(want))
	if !slices.Equal(got, w) {
		t.Errorf("%s fields:\n got %v\nwant %v", what, got, w)
	}
}

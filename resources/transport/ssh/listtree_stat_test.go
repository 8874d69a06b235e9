package ssh

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want time.Time
		ok   bool
	}{
		{name: "date", in: "1796403044.159134357\n", want: time.Unix(1796403044, 159134357), ok: true},
		{name: "find, ten digits", in: "1796403044.1528169210", want: time.Unix(1796403044, 152816921), ok: true},
		{name: "short fraction", in: "1796403044.5", want: time.Unix(1796403044, 500000000), ok: true},
		{name: "whole seconds", in: "1796403044", want: time.Unix(1796403044, 0), ok: true},
		{name: "not a number", in: "%s.%N"},
		{name: "bad fraction", in: "1796403044.x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseTime(tc.in)
			if ok != tc.ok || (ok && !got.Equal(tc.want)) {
				t.Errorf("parseTime(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

package main

import (
	"reflect"
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestPrune(t *testing.T) {
	cases := []struct {
		name   string
		times  []string
		keep   Retention
		remove []string
	}{
		{"nothing yet", nil, Retention{7, 4}, nil},
		{"one backup is kept even with nothing to keep", []string{"2026-12-01 03:00"}, Retention{0, 0}, nil},
		{"several a day: the newest of the day stays", []string{"2026-12-01 03:00", "2026-12-01 09:00", "2026-12-01 15:00"}, Retention{7, 0}, []string{"2026-12-01 09:00", "2026-12-01 03:00"}},
		{
			"daily: the last 3 days with a backup",
			[]string{"2026-12-01 03:00", "2026-12-02 03:00", "2026-12-03 03:00", "2026-12-04 03:00", "2026-12-05 03:00"},
			Retention{3, 0},
			[]string{"2026-12-02 03:00", "2026-12-01 03:00"},
		},
		{
			"a gap of days does not use up the count",
			[]string{"2026-11-20 03:00", "2026-11-25 03:00", "2026-12-05 03:00"},
			Retention{3, 0},
			nil,
		},
		{
			// 2026-11-30 is a Monday: weeks 48 (Nov 23-29) and 49 (Nov 30-Dec 6).
			"weekly: the newest of each of the last 2 ISO weeks, beyond the dailies",
			[]string{"2026-11-16 03:00", "2026-11-23 03:00", "2026-11-29 03:00", "2026-12-01 03:00", "2026-12-02 03:00"},
			Retention{1, 2},
			[]string{"2026-12-01 03:00", "2026-11-23 03:00", "2026-11-16 03:00"},
		},
		{
			"7 daily and 4 weekly over 40 nightly backups",
			nightly("2026-10-24 03:00", 40),
			Retention{7, 4},
			nil, // checked by count below
		},
	}
	for _, c := range cases {
		var times []time.Time
		for _, s := range c.times {
			times = append(times, at(s))
		}
		got := Prune(times, c.keep)
		if c.name == "7 daily and 4 weekly over 40 nightly backups" {
			// The last night is Wed 2026-12-02; the last 7 (Nov 26-Dec 2) hold the newest of ISO
			// weeks 49 and 48, so the 4 weekly add the newest of weeks 47 and 46: 9 kept.
			want := []time.Time{at("2026-12-02 03:00"), at("2026-12-01 03:00"), at("2026-11-30 03:00"), at("2026-11-29 03:00"), at("2026-11-28 03:00"), at("2026-11-27 03:00"), at("2026-11-26 03:00"), at("2026-11-22 03:00"), at("2026-11-15 03:00")}
			if kept := without(times, got); !reflect.DeepEqual(kept, want) {
				t.Errorf("%s: kept %v, want %v", c.name, kept, want)
			}
			continue
		}
		var want []time.Time
		for _, s := range c.remove {
			want = append(want, at(s))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: removed %v, want %v", c.name, got, want)
		}
	}
}

func nightly(first string, n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, at(first).AddDate(0, 0, i).Format("2006-01-02 15:04"))
	}
	return out
}

func without(all, removed []time.Time) []time.Time {
	gone := map[time.Time]bool{}
	for _, t := range removed {
		gone[t] = true
	}
	var kept []time.Time
	for i := len(all) - 1; i >= 0; i-- {
		if !gone[all[i]] {
			kept = append(kept, all[i])
		}
	}
	return kept
}

package main

import (
	"fmt"
	"sort"
	"time"
)

// Retention: how many daily and weekly backups to keep.
type Retention struct {
	Daily  int `json:"daily"`
	Weekly int `json:"weekly"`
}

// Prune says which backups (by their times) to delete: kept are the newest of each of the last
// Daily days that have a backup, the newest of each of the last Weekly ISO weeks that have one,
// and always the newest backup of all. Pure: same input, same answer.
func Prune(times []time.Time, r Retention) (remove []time.Time) {
	sorted := append([]time.Time{}, times...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].After(sorted[j]) })
	keep := map[time.Time]bool{}
	if len(sorted) > 0 {
		keep[sorted[0]] = true
	}
	newestPer := func(period func(time.Time) string, count int) {
		seen := map[string]bool{}
		for _, t := range sorted {
			p := period(t)
			if seen[p] {
				continue
			}
			if len(seen) == count {
				return
			}
			seen[p] = true
			keep[t] = true
		}
	}
	newestPer(func(t time.Time) string { return t.UTC().Format("2006-01-02") }, r.Daily)
	newestPer(func(t time.Time) string {
		y, w := t.UTC().ISOWeek()
		return fmt.Sprintf("%d-W%02d", y, w)
	}, r.Weekly)
	for _, t := range sorted {
		if !keep[t] {
			remove = append(remove, t)
		}
	}
	return remove
}

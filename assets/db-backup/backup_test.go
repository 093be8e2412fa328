package main

import (
	"strings"
	"testing"
)

func TestPositionTapKeepsBothEnds(t *testing.T) {
	tap := &positionTap{limit: 16}
	for _, chunk := range []string{"HEAD-0123456789ab", strings.Repeat("m", 1000), "...", "TAIL-position=42"} {
		tap.Write([]byte(chunk))
	}
	if got := tap.text(); got != "HEAD-0123456789a\nTAIL-position=42" {
		t.Fatalf("got %q", got)
	}
}

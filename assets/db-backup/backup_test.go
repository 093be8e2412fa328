package main

import (
	"os"
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

func TestRouteFileWriter(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/writer"
	nodes := []Endpoint{{Name: "web-db-primary", Host: "web-db-primary", Port: 3306}, {Name: "web-db-replica", Host: "web-db-replica", Port: 3306}}
	writer := RouteFileWriter(file, nodes)
	if _, ok := writer(); ok {
		t.Fatal("no route file: no writer")
	}
	for content, want := range map[string]string{"web-db-replica\n": "web-db-replica", "": "", "web-db-other\n": ""} {
		os.WriteFile(file, []byte(content), 0o644)
		got, ok := writer()
		if got.Name != want || ok != (want != "") {
			t.Errorf("route file %q: got %q, %v; want %q", content, got.Name, ok, want)
		}
	}
}

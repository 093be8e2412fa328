package main

import (
	"context"
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"
)

// dnsServer answers A queries for known names like Docker's embedded DNS: at once with the
// address, and for any other name either NXDOMAIN (a network with a way out) or nothing at all
// (an internal network, as measured on Docker 20.10 here).
func dnsServer(t *testing.T, known map[string]net.IP, silentOnUnknown bool) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := append([]byte(nil), buf[:n]...)
			name, end := questionName(q)
			qtype := binary.BigEndian.Uint16(q[end:])
			ip, ok := known[name]
			if !ok && silentOnUnknown {
				continue
			}
			resp := append([]byte(nil), q[:end+4]...)
			resp[2] |= 0x80 // a response
			resp[3] = 0x80  // recursion available, no error
			binary.BigEndian.PutUint16(resp[6:], 0)
			binary.BigEndian.PutUint16(resp[8:], 0)
			binary.BigEndian.PutUint16(resp[10:], 0)
			switch {
			case !ok:
				resp[3] |= 3 // NXDOMAIN
			case qtype == 1:
				binary.BigEndian.PutUint16(resp[6:], 1)
				resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
				resp = append(resp, ip.To4()...)
			}
			pc.WriteTo(resp, from)
		}
	}()
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

// questionName reads the query's name (no compression in questions) and where its type starts.
func questionName(q []byte) (string, int) {
	var labels []string
	i := 12
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	return strings.Join(labels, "."), i + 1
}

func TestResolves(t *testing.T) {
	known := map[string]net.IP{"web-db-primary": net.ParseIP("172.18.0.5")}
	for _, c := range []struct {
		name   string
		silent bool
		host   string
		want   bool
	}{
		{"a running container's name", true, "web-db-primary", true},
		{"a stopped container's name on an internal network: no answer", true, "web-db-replica", false},
		{"a stopped container's name on a network with a way out: NXDOMAIN", false, "web-db-replica", false},
		{"an IP address, not looked up", true, "127.0.0.1", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := Resolver{Timeout: 300 * time.Millisecond, R: dnsServer(t, known, c.silent)}
			started := time.Now()
			if got := r.Resolves(context.Background(), c.host); got != c.want {
				t.Fatalf("Resolves(%q) = %v, want %v", c.host, got, c.want)
			}
			// Bounded by our timeout, not the resolver's own (5 s by default).
			if took := time.Since(started); took > 1500*time.Millisecond {
				t.Fatalf("took %s: the 300ms timeout was not kept", took)
			}
		})
	}
}

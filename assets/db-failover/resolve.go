package main

import (
	"context"
	"net"
	"time"
)

// Names are looked up by the agent itself before the client runs. Docker's embedded DNS answers a
// running container's name at once; a stopped container's name it does not know, and on an
// internal network (the data tier) it sends no answer at all, so the client's own lookup waits out
// the resolver's timeout (1 s a try, measured here: 1-2 s) and its error comes too late to tell a
// gone node from a hung one. A short lookup of our own tells them apart.

// Resolver answers whether a host name resolves now.
type Resolver struct {
	Timeout time.Duration
	// R: the system's resolver if nil.
	R *net.Resolver
}

// Resolves is false when the name has no address, or none came within the timeout. IP addresses
// always resolve.
func (r Resolver) Resolves(ctx context.Context, host string) bool {
	if net.ParseIP(host) != nil || r.Timeout <= 0 {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	res := r.R
	if res == nil {
		res = &net.Resolver{PreferGo: true}
	}
	addrs, err := res.LookupHost(ctx, host)
	return err == nil && len(addrs) > 0
}

// Command db-failover is the database failover agent of cdktf-distributed-web-stack: it decides
// which of two MySQL or MariaDB nodes takes writes and tells the router through files.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	config := flag.String("config", "/etc/dws/failover.json", "the agent's configuration (JSON)")
	check := flag.Bool("check", false, "check the configuration and exit")
	flag.Parse()
	cfg, err := LoadConfig(*config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "db-failover:", err)
		os.Exit(2)
	}
	if *check {
		fmt.Println("db-failover: configuration is valid")
		return
	}
	log := NewLogger(os.Stdout)
	agent, err := NewAgent(cfg, log)
	if err != nil {
		log.Log("exit", err.Error(), nil)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	agent.Run(ctx)
	log.Log("exit", "stopped", nil)
}

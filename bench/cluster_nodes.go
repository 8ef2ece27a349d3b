package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The cluster's nodes: started from the binary, waited for and stopped.

// startClusterNodes starts n nodes of one embedded cluster, each in its own
// directory under dir, on free loopback ports.
func startClusterNodes(ctx context.Context, bin, dir string, n int, log io.Writer) ([]*Target, error) {
	ports, err := freeLoopbackAddrs(n)
	if err != nil {
		return nil, err
	}
	nodes := make([]*Target, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := filepath.Join(dir, fmt.Sprintf("node%d", i+1))
			if errs[i] = os.MkdirAll(d, 0o700); errs[i] != nil {
				return
			}
			cfg := BenchConfig(d, "")
			cfg.Cluster.Embedded.Listen = ports[i]
			for j, p := range ports {
				if j != i {
					cfg.Cluster.Embedded.Routes = append(cfg.Cluster.Embedded.Routes, p)
				}
			}
			nodes[i], errs[i] = startProcess(ctx, bin, cfg, d, log)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("node %d: %w", i+1, errs[i])
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, t := range nodes {
			if t != nil {
				_ = t.Close()
			}
		}
		return nil, err
	}
	return nodes, nil
}

// freeLoopbackAddrs returns n loopback host:port addresses free a moment ago.
func freeLoopbackAddrs(n int) ([]string, error) {
	var out []string
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// closeTargets stops the nodes at once (each takes up to its SIGTERM grace).
func closeTargets(nodes []*Target, log *Progress) {
	var wg sync.WaitGroup
	for i, t := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := t.Close(); err != nil {
				log.Logf("stopping node %d: %v", i+1, err)
			}
		}()
	}
	wg.Wait()
}

func readyURL(t *Target) string {
	return strings.TrimSuffix(t.MetricsURL, "/metrics") + "/readyz"
}

// waitReady waits until every node's /readyz answers 200.
func waitReady(ctx context.Context, nodes []*Target, timeout time.Duration) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { errs[i] = n.proc.WaitReady(ctx, timeout) })
	}
	wg.Wait()
	var not []string
	for i, err := range errs {
		if err != nil {
			not = append(not, strconv.Itoa(i+1))
		}
	}
	if len(not) > 0 {
		return fmt.Errorf("bench: cluster nodes %s not ready (/readyz) within %s: %w", strings.Join(not, ", "), timeout, errors.Join(errs...))
	}
	return nil
}

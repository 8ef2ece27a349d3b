package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

// runHealth probes /healthz of a local node, for container health checks in
// images that have no curl. The default URL follows PORT; https is tried
// when plain HTTP fails, since the port may serve TLS only.
func runHealth(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := getenv("PORT")
	if port == "" {
		port = "9090"
	}
	url := fs.String("url", "", "health `URL` (default http://127.0.0.1:$PORT/healthz, then https)")
	timeout := fs.Duration("timeout", 3*time.Second, "request `timeout`")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageErr("%v", err)
	}
	urls := []string{*url}
	if *url == "" {
		urls = []string{"http://127.0.0.1:" + port + "/healthz", "https://127.0.0.1:" + port + "/healthz"}
	}
	client := &http.Client{
		Timeout: *timeout,
		// The certificate names the public host, not 127.0.0.1; this probe
		// only asks whether the local process answers.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
	var last error
	for _, u := range urls {
		resp, err := client.Get(u)
		if err != nil {
			last = err
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			fmt.Fprintln(stdout, "ok")
			return nil
		}
		last = fmt.Errorf("%s: %s", u, resp.Status)
	}
	return fmt.Errorf("unhealthy: %w", last)
}

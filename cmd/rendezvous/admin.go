package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ws-star/rendezvous/config"
)

// Environment variables of the admin command: the node reads the same ones,
// so a shell or a container names the node's API once.
const (
	envAdminAddr      = config.EnvAdminAddr
	envAdminTokenFile = config.EnvAdminTokenFile
)

const adminUsage = `Usage: rendezvous admin [flags] <command>

Commands (see docs/admin.md):
  namespaces              list namespaces with their members and live views
  namespace <ns>          list the members of a namespace
  peer <peer-id>          show a peer's connections, reservation, joins and registrations
  kick <peer-id>          close a peer's connections (it may reconnect; deny it to keep it out)
  deny <peer-id|cidr>     ban a peer or a subnet and close its connections
  deny list               list the bans
  undeny <peer-id|cidr>   lift a ban

Flags (before or after the command):
`

// runAdmin calls the admin API of a running node (admin.addr).
func runAdmin(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := getenv(envAdminAddr)
	if addr == "" {
		addr = "127.0.0.1:9091"
	}
	fs.StringVar(&addr, "admin-addr", addr, "`host:port` of the node's admin API, its admin.addr (env "+envAdminAddr+")")
	tokenFile := fs.String("token-file", getenv(envAdminTokenFile), "`file` holding the bearer token, the node's admin.token_file (env "+envAdminTokenFile+")")
	timeout := fs.Duration("timeout", 10*time.Second, "request `timeout`")
	raw := fs.Bool("json", false, "print the API's JSON replies as they are")

	// Flags may come before or after the command and its arguments.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				fmt.Fprint(stdout, adminUsage)
				fs.SetOutput(stdout)
				fs.PrintDefaults()
				return err
			}
			return usageErr("admin: %v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) == 0 {
		return usageErr("admin: a command is required: namespaces, namespace, peer, kick, deny or undeny (see rendezvous admin -h)")
	}

	c := &adminClient{base: "http://" + addr, http: &http.Client{Timeout: *timeout}, raw: *raw, out: stdout}
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return usageErr("admin: --token-file: %v", err)
		}
		c.token = strings.TrimSpace(string(b))
	}
	arg := func(what string) (string, error) {
		if len(pos) != 2 {
			return "", usageErr("admin %s: want exactly one %s", pos[0], what)
		}
		return pos[1], nil
	}
	switch pos[0] {
	case "namespaces":
		if len(pos) != 1 {
			return usageErr("admin namespaces takes no argument")
		}
		return c.namespaces()
	case "namespace":
		ns, err := arg("namespace")
		if err != nil {
			return err
		}
		return c.show("GET", "/v1/namespaces/"+url.PathEscape(ns), nil)
	case "peer":
		id, err := arg("peer ID")
		if err != nil {
			return err
		}
		return c.show("GET", "/v1/peers/"+url.PathEscape(id), nil)
	case "kick":
		id, err := arg("peer ID")
		if err != nil {
			return err
		}
		return c.kick(id)
	case "deny":
		if len(pos) == 2 && pos[1] == "list" {
			return c.denyList()
		}
		entry, err := arg("peer ID or CIDR subnet (or \"list\")")
		if err != nil {
			return err
		}
		return c.deny(entry)
	case "undeny":
		entry, err := arg("peer ID or CIDR subnet")
		if err != nil {
			return err
		}
		return c.undeny(entry)
	}
	return usageErr("admin: unknown command %q (want namespaces, namespace, peer, kick, deny or undeny)", pos[0])
}

type adminClient struct {
	base  string
	token string
	http  *http.Client
	raw   bool
	out   io.Writer
}

// maxAdminReply bounds what the command reads of one reply.
const maxAdminReply = 64 << 20

// call sends a request and returns the reply body; a status other than 2xx
// is an error carrying the API's message.
func (c *adminClient) call(method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, usageErr("admin: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin: %w (is admin.addr set on the node?)", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminReply))
	if err != nil {
		return nil, fmt.Errorf("admin: read reply: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("admin: %s: %s", resp.Status, e.Error)
		}
		return nil, fmt.Errorf("admin: %s", resp.Status)
	}
	return data, nil
}

// show prints a reply as indented JSON.
func (c *adminClient) show(method, path string, body any) error {
	data, err := c.call(method, path, body)
	if err != nil {
		return err
	}
	return c.printJSON(data)
}

func (c *adminClient) printJSON(data []byte) error {
	if c.raw {
		_, err := c.out.Write(data)
		return err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, bytes.TrimSpace(data), "", "  "); err != nil {
		return fmt.Errorf("admin: reply is not JSON: %w", err)
	}
	b.WriteByte('\n')
	_, err := c.out.Write(b.Bytes())
	return err
}

func (c *adminClient) namespaces() error {
	data, err := c.call("GET", "/v1/namespaces", nil)
	if err != nil || c.raw {
		if err == nil {
			err = c.printJSON(data)
		}
		return err
	}
	var r struct {
		Namespaces []struct {
			Name           string
			Members, Views int
		}
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tMEMBERS\tVIEWS")
	for _, n := range r.Namespaces {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", n.Name, n.Members, n.Views)
	}
	return tw.Flush()
}

func (c *adminClient) kick(id string) error {
	data, err := c.call("POST", "/v1/peers/"+url.PathEscape(id)+"/disconnect", nil)
	if err != nil || c.raw {
		if err == nil {
			err = c.printJSON(data)
		}
		return err
	}
	var r struct{ Closed int }
	_ = json.Unmarshal(data, &r)
	fmt.Fprintf(c.out, "disconnected %s (%d connections)\n", id, r.Closed)
	return nil
}

// deny takes a CIDR when the entry has a slash, else a peer ID; the node
// checks either.
func (c *adminClient) deny(entry string) error {
	body := map[string]string{"peer": entry}
	if strings.Contains(entry, "/") {
		body = map[string]string{"subnet": entry}
	}
	data, err := c.call("POST", "/v1/deny", body)
	if err != nil || c.raw {
		if err == nil {
			err = c.printJSON(data)
		}
		return err
	}
	var r struct {
		Entry, Kind      string
		Added, Persisted bool
		Closed           int
	}
	_ = json.Unmarshal(data, &r)
	switch {
	case !r.Added:
		fmt.Fprintf(c.out, "%s %s was denied already; closed %d connections\n", r.Kind, r.Entry, r.Closed)
	case r.Persisted:
		fmt.Fprintf(c.out, "denied %s %s; closed %d connections\n", r.Kind, r.Entry, r.Closed)
	default:
		fmt.Fprintf(c.out, "denied %s %s until the node restarts (no deny.file); closed %d connections\n", r.Kind, r.Entry, r.Closed)
	}
	return nil
}

func (c *adminClient) denyList() error {
	data, err := c.call("GET", "/v1/deny", nil)
	if err != nil || c.raw {
		if err == nil {
			err = c.printJSON(data)
		}
		return err
	}
	var r struct {
		Entries []struct{ Entry, Kind, Source string }
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENTRY\tKIND\tSOURCE")
	for _, e := range r.Entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Entry, e.Kind, e.Source)
	}
	return tw.Flush()
}

func (c *adminClient) undeny(entry string) error {
	data, err := c.call("DELETE", "/v1/deny/"+url.PathEscape(entry), nil)
	if err != nil || c.raw {
		if err == nil {
			err = c.printJSON(data)
		}
		return err
	}
	var r struct{ Entry, Kind string }
	_ = json.Unmarshal(data, &r)
	fmt.Fprintf(c.out, "lifted the ban on %s %s\n", r.Kind, r.Entry)
	return nil
}

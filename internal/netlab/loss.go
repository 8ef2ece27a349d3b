package netlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// lossTable is the nftables table of a Loss, one per namespace: deleting
// the namespace (Close, Sweep) removes it with everything else.
const lossTable = "rdvloss"

// LossAvailable says why Loss cannot work here, nil when it can: on top of
// a lab it needs the nft tool (this kernel has no netem, but nftables'
// numgen).
func LossAvailable() error {
	if err := Available(); err != nil {
		return err
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return errors.New("netlab: nft not found (Debian package nftables)")
	}
	return nil
}

// Loss drops pct % of the packets that reach a node from another node: in
// each namespace, a random pct % of the packets coming in from another
// node's address, and of the TCP and UDP packets coming in from the root
// namespace (the bridge's address) whose source or destination port is one
// of ports, such as a relay's listening ports and the port it dials. The
// drops are on the way in, as on a lossy wire: the sender sees nothing and
// TCP retransmits; every direction of a link crosses one such rule, so its
// loss is pct %. Anything else from the root namespace (the peers) is not
// touched. A second Loss replaces the first; NoLoss removes it.
func (l *Lab) Loss(ctx context.Context, pct int, ports ...uint16) error {
	if pct < 0 || pct > 100 {
		return fmt.Errorf("netlab: loss %d %%: want 0 to 100", pct)
	}
	if err := LossAvailable(); err != nil {
		return err
	}
	var errs []error
	for i := range l.nodes {
		errs = append(errs, l.nft(ctx, i, l.lossRules(i, pct, ports)))
	}
	return errors.Join(errs...)
}

// NoLoss removes what Loss added.
func (l *Lab) NoLoss(ctx context.Context) error {
	if err := LossAvailable(); err != nil {
		return err
	}
	var errs []error
	for i := range l.nodes {
		// Declaring the table first makes the delete succeed without one.
		errs = append(errs, l.nft(ctx, i, fmt.Sprintf("table inet %s\ndelete table inet %s\n", lossTable, lossTable)))
	}
	return errors.Join(errs...)
}

// lossRules is node i's ruleset: the table replaced as a whole, in one
// transaction. The chain "lose" accepts what it does not drop, so that no
// packet draws twice.
func (l *Lab) lossRules(i, pct int, ports []uint16) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\n", lossTable, lossTable)
	fmt.Fprintf(&b, "table inet %s {\n", lossTable)
	fmt.Fprintf(&b, "  chain lose {\n    numgen random mod 100 < %d drop\n    accept\n  }\n", pct)
	b.WriteString("  chain in {\n    type filter hook input priority filter; policy accept;\n")
	var others []string
	for j, nd := range l.nodes {
		if j != i {
			others = append(others, nd.Addr.String())
		}
	}
	if len(others) > 0 {
		fmt.Fprintf(&b, "    ip saddr { %s } jump lose\n", strings.Join(others, ", "))
	}
	if len(ports) > 0 {
		ps := make([]string, len(ports))
		for k, p := range ports {
			ps[k] = strconv.Itoa(int(p))
		}
		set := strings.Join(ps, ", ")
		for _, dir := range []string{"sport", "dport"} {
			fmt.Fprintf(&b, "    ip saddr %s meta l4proto { tcp, udp } th %s { %s } jump lose\n", l.gateway(), dir, set)
		}
	}
	b.WriteString("  }\n}\n")
	return b.String()
}

// nft runs an nft script in node i's namespace.
func (l *Lab) nft(ctx context.Context, i int, script string) error {
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", l.nodes[i].NS, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("netlab: nft in %s: %w: %s", l.nodes[i].NS, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Retransmits is the TCP segments node i's namespace has retransmitted
// (RetransSegs of its /proc/net/snmp): what a loss costs its connections.
func (l *Lab) Retransmits(i int) (uint64, error) {
	var b []byte
	err := l.inNS(i, func() error {
		var err error
		// thread-self: /proc/self/net is the main thread's namespace.
		b, err = os.ReadFile("/proc/thread-self/net/snmp")
		return err
	})
	if err != nil {
		return 0, err
	}
	return snmpField(string(b), "Tcp", "RetransSegs")
}

// snmpField reads one counter of /proc/net/snmp, where each protocol has a
// line of names followed by a line of values.
func snmpField(snmp, proto, name string) (uint64, error) {
	var names []string
	for _, line := range strings.Split(snmp, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != proto+":" {
			continue
		}
		if names == nil {
			names = f[1:]
			continue
		}
		for k, n := range names {
			if n == name && k+1 < len(f) {
				return strconv.ParseUint(f[k+1], 10, 64)
			}
		}
		break
	}
	return 0, fmt.Errorf("netlab: no %s %s in /proc/net/snmp", proto, name)
}

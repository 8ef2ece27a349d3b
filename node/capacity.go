package node

import "github.com/ws-star/rendezvous/config"

// logCapacity says, in one line, what the node is sized for and why, and
// warns when capacity.peers cannot fit in the file-descriptor limit.
func (n *Node) logCapacity(m config.Machine, from string) {
	c := n.cfg
	n.log.Info("capacity", "peers", c.Capacity.Peers, "from", from,
		"max_connections", c.Resources.MaxConnections, "max_streams", c.Resources.MaxStreams,
		"max_memory_mb", c.Resources.MaxMemoryMB, "max_file_descriptors", c.Resources.MaxFileDescriptors,
		"max_reservations", c.Relay.MaxReservations, "max_webrtc_direct_connections", c.Resources.MaxWebRTCDirectConnections, "high_water", c.ConnManager.HighWater,
		"fd_limit", m.FDLimit)
	if need := c.Capacity.Peers + config.FDReserve; m.FDLimit > 0 && need > m.FDLimit {
		n.log.Warn("capacity.peers does not fit in the open-file limit: connections beyond it will be refused; raise the hard limit (ulimit -Hn, LimitNOFILE=) or lower capacity.peers",
			"capacity_peers", c.Capacity.Peers, "fd_limit", m.FDLimit, "needed", need)
	}
}

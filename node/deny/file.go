package deny

import (
	"os"
	"time"

	"github.com/ws-star/rendezvous/config"
)

// ReloadInterval is how often deny.file is checked for changes. A stat
// per second costs nothing, and unlike a file watch it survives the file
// being replaced by a rename (as editors and WriteDenyFile do).
const ReloadInterval = time.Second

// watch reloads deny.file when its stamp changes. A file that does not load
// keeps the previous list: a half-saved edit must not lift every ban.
func (d *List) watch() {
	defer close(d.done)
	t := time.NewTicker(ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
		d.reload()
	}
}

func (d *List) reload() {
	d.mu.Lock()
	st := statFile(d.path)
	if st == d.stamp {
		d.mu.Unlock()
		return
	}
	d.stamp = st
	l, err := config.LoadDenyFile(d.path)
	if err != nil {
		d.mu.Unlock()
		d.log.Error("deny list: file not reloaded, keeping the previous list", "path", d.path, "err", err)
		return
	}
	d.file = l
	d.rebuild()
	d.mu.Unlock()
	d.log.Info("deny list: file reloaded", "path", d.path, "peers", len(l.Peers), "subnets", len(l.Subnets))
	d.sweep()
}

// fileStamp tells a changed file from an unchanged one without reading it.
type fileStamp struct {
	exists bool
	mod    time.Time
	size   int64
}

func statFile(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{exists: true, mod: fi.ModTime(), size: fi.Size()}
}

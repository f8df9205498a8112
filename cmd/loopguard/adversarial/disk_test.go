package adversarial

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFullDiskNeverLosesADelivery: the spool lives on a filesystem that
// fills up (a 2 MiB tmpfs the test mounts; root only). While the app is
// down, deliveries of a hold-policy provider are held until the disk is
// full; from then on the provider is answered 503 with Retry-After (it
// redelivers) — never 200 for a delivery that was not stored. Once the app
// is back, every delivery answered 200 reaches it.
func TestFullDiskNeverLosesADelivery(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs for the full disk (CI runs as root)")
	}
	if _, err := exec.LookPath("mount"); err != nil {
		t.Skip("needs mount(8) for the full disk")
	}
	disk := filepath.Join(t.TempDir(), "disk")
	if err := os.MkdirAll(disk, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = syscall.Unmount(disk, syscall.MNT_DETACH) })

	app := startApp(t, "")
	app.Down()
	cfg := strings.Replace(holdConfig(t, app.Addr, 100000, 10), "{{dir}}/spool", disk, 1)
	lg := startLoopguard(t, Options{Config: cfg})
	pad := strings.Repeat("x", 60<<10) // ~60 KiB a delivery: the disk fills within a few dozen
	var held []string
	refused := 0
	for i := range 200 {
		id := fmt.Sprintf("d%03d", i)
		status, hdr, got := deliver(t, lg, "/webhooks/generic", "application/json",
			[]byte(fmt.Sprintf(`{"id":%q,"object":"contacts","actor":"u_person","record":{"id":"r%d","name":"n%d","notes":%q}}`, id, i, i, pad)))
		switch status {
		case http.StatusOK:
			if !strings.Contains(got, "held") {
				t.Fatalf("%s answered 200 without being held: %s", id, got)
			}
			held = append(held, id)
		case http.StatusServiceUnavailable:
			if hdr.Get("Retry-After") == "" {
				t.Fatalf("%s: 503 without Retry-After", id)
			}
			refused++
		default:
			t.Fatalf("%s: status %d %s", id, status, got)
		}
		if refused >= 3 {
			break
		}
	}
	if len(held) == 0 || refused == 0 {
		t.Fatalf("held %d, refused %d: the disk never filled or nothing was held", len(held), refused)
	}
	if !strings.Contains(lg.Log(), "no space left") {
		t.Fatalf("the refusals were not for the full disk:\n%s", tail(lg.Log(), 10))
	}
	t.Logf("held %d deliveries, then the full disk answered 503", len(held))
	app.Up(t)
	waitFor(t, 60*time.Second, "every held delivery received", func() bool { return len(app.Received()) >= len(held) })
	if got, want := strings.Join(app.IDs(), ","), strings.Join(held, ","); got != want {
		t.Fatalf("the app received %s, want the held ones in order %s", got, want)
	}
}

package configs

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
)

// maxTokenFileSize caps how much of admin.token_file is read, so a wrong
// path fails fast.
const maxTokenFileSize = 4 << 10

// IsLoopback reports whether a listen address binds loopback only: an IP in
// 127.0.0.0/8 or ::1, or the name "localhost". An empty host (":9090"),
// 0.0.0.0, ::, any other IP and any other name bind beyond loopback (a name
// may resolve to anything, so it counts as exposed).
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// validateAdmin requires a token when the admin listener is reachable
// beyond loopback: its mutating endpoints reset breakers, release
// quarantines and (later) retry or delete held deliveries.
func validateAdmin(c *Config) []error {
	if c.Listen.Admin == "" || IsLoopback(c.Listen.Admin) || c.Admin.Token.Value() != "" {
		return nil
	}
	return []error{fmt.Errorf("admin.token: required because listen.admin %q is reachable beyond loopback "+
		"(set admin.token, LOOPGUARD_ADMIN_TOKEN or LOOPGUARD_ADMIN_TOKEN_FILE, or bind listen.admin to 127.0.0.1)", c.Listen.Admin)}
}

// readTokenFile fills a.Token from a.TokenFile. The file's content is never
// part of an error.
func readTokenFile(a *Admin) error {
	if a.TokenFile == "" {
		return nil
	}
	if a.Token.Value() != "" {
		return errors.New("admin: set token or token_file (LOOPGUARD_ADMIN_TOKEN or LOOPGUARD_ADMIN_TOKEN_FILE), not both")
	}
	f, err := os.Open(a.TokenFile)
	if err != nil {
		return fmt.Errorf("admin.token_file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFileSize+1))
	if err != nil {
		return fmt.Errorf("admin.token_file: read %s: %w", a.TokenFile, err)
	}
	if len(b) > maxTokenFileSize {
		return fmt.Errorf("admin.token_file: %s is larger than %d bytes", a.TokenFile, maxTokenFileSize)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return fmt.Errorf("admin.token_file: %s is empty", a.TokenFile)
	}
	a.Token = Secret(tok)
	return nil
}

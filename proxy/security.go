package proxy

import (
	"fmt"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/proxy/ca"
	"github.com/rs/zerolog"
)

// minAdminToken is the token length below which a start warns: a short
// token on a reachable listener can be guessed.
const minAdminToken = 16

// checkAdmin refuses an admin listener reachable beyond loopback without a
// token (configs.Load already says so; this holds for configurations built
// in code too), and warns about a short token.
func checkAdmin(c configs.Config, log zerolog.Logger) error {
	tok := c.Admin.Token.Value()
	if c.Listen.Admin != "" && !configs.IsLoopback(c.Listen.Admin) && tok == "" {
		return fmt.Errorf("admin.token: required because listen.admin %q is reachable beyond loopback "+
			"(set admin.token, LOOPGUARD_ADMIN_TOKEN or LOOPGUARD_ADMIN_TOKEN_FILE, or bind listen.admin to 127.0.0.1)", c.Listen.Admin)
	}
	if tok != "" && len(tok) < minAdminToken {
		log.Warn().Int("length", len(tok)).Int("recommended", minAdminToken).
			Msg("admin.token is short: use a long random value (e.g. `openssl rand -hex 32`)")
	}
	return nil
}

// loadDeploymentKey loads the mounted deployment key, or loads or generates
// deployment.key in ca.dir. Replicas sharing a Redis must share the key:
// a key generated just now with store: redis is a warning.
func loadDeploymentKey(c configs.Config, log zerolog.Logger) ([]byte, error) {
	path, mounted := c.CA.DeploymentKeyPath()
	if mounted {
		key, err := ca.LoadDeploymentKey(path)
		if err != nil {
			return nil, fmt.Errorf("ca.deployment_key_file: %w", err)
		}
		return key, nil
	}
	key, created, err := ca.LoadOrCreateDeploymentKey(path)
	if err != nil {
		return nil, fmt.Errorf("ca.dir: %w", err)
	}
	switch {
	case created && c.Store == configs.StoreRedis:
		log.Warn().Str("path", path).Msg("generated a new deployment key while state is shared on redis: " +
			"every replica must use the same key (mount one with ca.deployment_key_file / LOOPGUARD_DEPLOYMENT_KEY_FILE), " +
			"or replicas name the same account differently")
	case created:
		log.Info().Str("path", path).Msg("generated a new deployment key (0600); keep it with the CA")
	}
	return key, nil
}

// logExposure logs, once per start, a listener bound beyond loopback: its
// name, address and what that exposes.
func logExposure(log zerolog.Logger, name, configured, bound string) {
	if configs.IsLoopback(configured) {
		return
	}
	ev := log.Warn()
	why := "anyone who reaches it can send requests through loopguard"
	switch name {
	case "inbound":
		ev, why = log.Info(), "providers post webhooks here"
	case "admin":
		ev, why = log.Info(), "every endpoint but /healthz and /readyz needs admin.token"
	}
	ev.Str("listener", name).Str("addr", configured).Str("bound", bound).Msg("listener reachable beyond loopback: " + why)
}

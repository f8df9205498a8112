package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/proxy"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

func runCmd(args []string, _ io.Writer, stderr io.Writer) error {
	fs := newFlags("run", "run --config FILE", stderr)
	cfgPath := fs.String("config", configs.DefaultFile, "configuration file (the embedded default when the file is configs/loopguard.yaml and absent)")
	if err := parse(fs, args); err != nil {
		return err
	}
	l, err := configs.Load(*cfgPath, os.LookupEnv)
	if err != nil {
		return err
	}
	log := newLogger(l.Config.Log, os.Stderr)
	if l.Config.Store == configs.StoreRedis {
		// go-redis has one process-wide logger; this binary sets it once.
		redis.SetLogger(&redisLogger{log: log})
	}
	s, err := proxy.New(l, log)
	if err != nil {
		return err
	}
	s.Version = version
	if err := s.Start(); err != nil {
		return err
	}
	log.Info().Str("version", version).Str("config", l.File).Int("providers", len(l.Providers)).Msg("loopguard started")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	grace := l.Config.ShutdownGrace.D()
	log.Info().Dur("grace", grace).Msg("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info().Msg("stopped")
	return nil
}

// newLogger builds the zerolog logger: JSON by default, console by option.
func newLogger(c configs.Log, w io.Writer) zerolog.Logger {
	out := w
	if c.Format == "console" {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	lvl, err := zerolog.ParseLevel(strings.ToLower(c.Level))
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Str("service", "loopguard").Logger()
}

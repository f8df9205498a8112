package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// redisLogger routes go-redis's own log lines (failed dials, pool errors) to
// zerolog at most once per redisLogEvery: while Redis is down it would
// otherwise log every attempt.
type redisLogger struct {
	log zerolog.Logger

	mu   sync.Mutex
	last time.Time
}

// redisLogEvery spaces go-redis's log lines.
const redisLogEvery = 10 * time.Second

// Printf implements go-redis's internal.Logging.
func (l *redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.mu.Lock()
	if time.Since(l.last) < redisLogEvery {
		l.mu.Unlock()
		return
	}
	l.last = time.Now()
	l.mu.Unlock()
	l.log.Warn().Str("component", "redis-client").Msg(fmt.Sprintf(format, v...))
}

package proxy

import "sync"

// bufferPool is an httputil.BufferPool: the reverse proxies copy response
// bodies through pooled 32 KiB buffers instead of allocating one per
// response.
type bufferPool struct{ p sync.Pool }

// copyBufferSize matches httputil.ReverseProxy's own copy buffer.
const copyBufferSize = 32 << 10

func newBufferPool() *bufferPool {
	bp := &bufferPool{}
	bp.p.New = func() any { b := make([]byte, copyBufferSize); return &b }
	return bp
}

// Get implements httputil.BufferPool.
func (bp *bufferPool) Get() []byte { return *bp.p.Get().(*[]byte) }

// Put implements httputil.BufferPool.
func (bp *bufferPool) Put(b []byte) {
	if cap(b) >= copyBufferSize {
		b = b[:copyBufferSize]
		bp.p.Put(&b)
	}
}

// get is a pooled buffer of copyBufferSize bytes; put gives it back
// (without the allocation Put makes to pool a slice).
func (bp *bufferPool) get() *[]byte { return bp.p.Get().(*[]byte) }

func (bp *bufferPool) put(b *[]byte) { bp.p.Put(b) }

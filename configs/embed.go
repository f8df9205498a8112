package configs

import (
	"embed"
)

// DefaultFile is the name under which the embedded default configuration is
// reported in errors and by `loopguard validate`.
const DefaultFile = "configs/loopguard.yaml"

//go:embed loopguard.yaml
var defaultYAML []byte

//go:embed providers/*.yaml
var builtinFS embed.FS

// Default returns the embedded default configuration (configs/loopguard.yaml).
func Default() []byte { return append([]byte(nil), defaultYAML...) }

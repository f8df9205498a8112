// Package multitest reads the batch and GraphQL write route cases of
// filters/testdata/multi, which the filters tests run through the engine
// and the proxy tests through the forward proxy and the gateway. Only tests
// import it.
package multitest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/tidwall/gjson"
	"go.yaml.in/yaml/v3"
)

// Case is one batch or GraphQL write route case (case.yaml).
type Case struct {
	// Dir is the case's folder.
	Dir string `yaml:"-"`
	// ProfileFile is a provider_files entry in the case's folder.
	ProfileFile string `yaml:"profile_file"`
	// Config is the deployment's providers list; {{upstream_host}} and
	// {{upstream_url}} are filled in.
	Config string `yaml:"config"`
	Write  struct {
		Method, Path, Query, Body, Response string
		Status                              int
		// Headers must be set on the tagged request.
		Headers map[string]string `yaml:"headers"`
	} `yaml:"write"`
	Records []Record `yaml:"records"`
	Webhook struct {
		Path string `yaml:"path"`
	} `yaml:"webhook"`
	Echo           []string            `yaml:"echo"`
	EchoHeaders    []map[string]string `yaml:"echo_headers"`
	Genuine        []string            `yaml:"genuine"`
	GenuineHeaders []map[string]string `yaml:"genuine_headers"`
	Read           *Read               `yaml:"read"`
}

// Record is what must hold of one record of the write.
type Record struct {
	Object, Record string
	// Sentinel is where the record's sentinel must be in the tagged body
	// ("": none).
	Sentinel string
	// Recorded: the record's write is in the ledger after the answer.
	Recorded bool
}

// Read is a pulled list that holds the write's echo.
type Read struct {
	Method, Path string
	// Body is the request body file (GraphQL queries).
	Body string
	// Response is the upstream's answer.
	Response string
	// IDs is the gjson path listing the ids left in the filtered answer;
	// Kept are those ids, in order.
	IDs  string
	Kept []string
	// Keeps is a path that must survive filtering (pageInfo).
	Keeps string
}

// Names lists the case folders under dir.
func Names(dir string) ([]string, error) {
	ds, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range ds {
		if d.IsDir() {
			out = append(out, d.Name())
		}
	}
	return out, nil
}

// Load reads a case folder.
func Load(dir string) (*Case, error) {
	b, err := os.ReadFile(filepath.Join(dir, "case.yaml"))
	if err != nil {
		return nil, err
	}
	c := &Case{Dir: dir}
	if err := yaml.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("%s/case.yaml: %w", dir, err)
	}
	return c, nil
}

// File reads a file of the case.
func (c *Case) File(name string) ([]byte, error) { return os.ReadFile(filepath.Join(c.Dir, name)) }

// Deployment renders the case's deployment YAML: head (e.g. app_url and
// outbound settings), the case's provider_files and providers.
func (c *Case) Deployment(head string, vars map[string]string) string {
	var sb strings.Builder
	sb.WriteString("agent: loopguard\n" + head)
	if c.ProfileFile != "" {
		abs, _ := filepath.Abs(filepath.Join(c.Dir, c.ProfileFile))
		sb.WriteString("provider_files: [\"" + abs + "\"]\n")
	}
	cfg := c.Config
	for k, v := range vars {
		cfg = strings.ReplaceAll(cfg, "{{"+k+"}}", v)
	}
	sb.WriteString("providers:\n" + cfg)
	return sb.String()
}

var fillRe = regexp.MustCompile(`\{\{(req|resp):([^}]+)\}\}`)

// Fill replaces {{req:path}} and {{resp:path}} in a payload with the
// values at those paths of the tagged request and of the response.
func Fill(b, req, resp []byte) []byte {
	return fillRe.ReplaceAllFunc(b, func(m []byte) []byte {
		g := fillRe.FindSubmatch(m)
		src := req
		if string(g[1]) == "resp" {
			src = resp
		}
		return []byte(gjson.GetBytes(src, string(g[2])).String())
	})
}

// HeaderAt returns the i-th headers of a list (nil past its end).
func HeaderAt(hs []map[string]string, i int) map[string]string {
	if i < len(hs) {
		return hs[i]
	}
	return nil
}

var sentinelPair = regexp.MustCompile(`,?"[A-Za-z _]+":"loopguard:[0-9a-f]{16}\.[0-9a-f]{16}"`)

// StripSentinels removes every inserted sentinel pair (and the comma that
// led it): a tagged body that differs from the original only by its
// sentinels comes back as the original bytes.
func StripSentinels(b []byte) []byte { return sentinelPair.ReplaceAll(b, nil) }

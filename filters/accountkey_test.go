package filters

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/filters/ledger"
)

// TestAccountKeyedByDeploymentSecret: a credential header names the same
// account under one deployment key, another account under another key, and
// neither the credential nor its plain SHA-256 appears in the name.
func TestAccountKeyedByDeploymentSecret(t *testing.T) {
	ps := loadProviders(t)
	keyA, keyB := bytes.Repeat([]byte{0xA1}, 32), bytes.Repeat([]byte{0xB2}, 32)
	engine := func(secret []byte) *Provider {
		store, err := ledger.NewMemory(ledger.Options{Shards: 16, MaxSizeMB: 16})
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(ps, store, Options{Agent: testAgent, Secret: secret})
		if err != nil {
			t.Fatal(err)
		}
		p, ok := e.Provider("generic")
		if !ok {
			t.Fatal("no generic provider in testdata/loopguard.yaml")
		}
		return p
	}
	pa, pa2, pb := engine(keyA), engine(keyA), engine(keyB)
	const cred = "Basic YWRtaW46cGFzc3dvcmQ=" // admin:password, a guessable one
	hdr := http.Header{"Authorization": {cred}}
	u := &url.URL{Path: "/v1/contacts/c1"}
	var prm Params
	a := pa.AccountOf("api.example.com", u, hdr, &prm)
	if again := pa2.AccountOf("api.example.com", u, hdr, &prm); again != a {
		t.Fatalf("same key, same header: %q then %q (a restart or another replica must name it alike)", a, again)
	}
	if b := pb.AccountOf("api.example.com", u, hdr, &prm); b == a {
		t.Fatalf("another deployment key gave the same account %q", b)
	}
	if other := pa.AccountOf("api.example.com", u, http.Header{"Authorization": {cred + "x"}}, &prm); other == a {
		t.Fatalf("two credentials share account %q", a)
	}
	if !strings.HasPrefix(a, AccountKeyPrefix) || len(a) != len(AccountKeyPrefix)+2*accountKeyBytes {
		t.Fatalf("account %q: want %s and %d hex digits", a, AccountKeyPrefix, 2*accountKeyBytes)
	}
	plain := sha256.Sum256([]byte(cred))
	for _, leak := range []string{cred, "YWRtaW46cGFzc3dvcmQ", "password", hex.EncodeToString(plain[:4])} {
		if strings.Contains(a, leak) {
			t.Fatalf("account %q shows %q", a, leak)
		}
	}
	// Accounts of an account override share the provider's key.
	if pa.ForAccount("anything").key == nil {
		t.Fatal("compiled provider has no deployment key")
	}
}

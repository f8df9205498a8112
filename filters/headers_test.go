package filters

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
)

// TestHeaderNamesCoverEverySpec: HeaderNames names every header a webhook
// route's group may read — found here by walking each compiled route for
// its "header:" specs, so that a spec added to WebhookRoute later is not
// missed — for every builtin profile and every deployment in testdata.
func TestHeaderNamesCoverEverySpec(t *testing.T) {
	sources := map[string][]byte{}
	for _, name := range configs.Builtins() {
		sources["builtin "+name] = []byte("providers: [{use: " + name + ", signature: {trust_unsigned: true}}]\n")
	}
	files, _ := filepath.Glob("testdata/*.yaml")
	more, _ := filepath.Glob("testdata/profiles/*/loopguard.yaml")
	for _, f := range append(files, more...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources[f] = b
	}
	routes := 0
	for src, b := range sources {
		l, err := configs.LoadBytes("x.yaml", b, nil)
		if err != nil {
			continue // not a deployment (case files, payload lists)
		}
		store, err := ledger.NewMemory(ledger.Options{Shards: 16, MaxSizeMB: 1})
		if err != nil {
			t.Fatal(err)
		}
		eng, err := New(l.Providers, store, Options{Agent: testAgent})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		for _, p := range eng.Providers() {
			for i, r := range p.webhooks {
				var want []string
				for _, g := range r.group {
					walkHeaderSpecs(reflect.ValueOf(g).Elem(), map[uintptr]bool{}, &want)
					if g.formField != "" && !slices.Contains(want, "Content-Type") {
						want = append(want, "Content-Type")
					}
				}
				got := r.HeaderNames()
				slices.Sort(want)
				got = slices.Sorted(slices.Values(got))
				if !slices.Equal(got, want) {
					t.Errorf("%s: %s webhooks[%d] (%s %s): HeaderNames %q, specs read %q", src, p.Name, i, r.Method, r.Tpl, got, want)
				}
				routes++
			}
		}
		_ = store.Close()
	}
	if routes < 20 {
		t.Fatalf("only %d webhook routes checked", routes)
	}
}

var (
	valueSpecType    = reflect.TypeFor[valueSpec]()
	webhookRoutePtrT = reflect.TypeFor[*WebhookRoute]()
)

// walkHeaderSpecs adds the header names of every valueSpec under v to
// names, not following other routes (the group).
func walkHeaderSpecs(v reflect.Value, seen map[uintptr]bool, names *[]string) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == valueSpecType && v.FieldByName("kind").Uint() == uint64(specHeader) {
			if s := v.FieldByName("s").String(); !slices.Contains(*names, s) {
				*names = append(*names, s)
			}
		}
		for i := range v.NumField() {
			walkHeaderSpecs(v.Field(i), seen, names)
		}
	case reflect.Pointer:
		if v.IsNil() || v.Type() == webhookRoutePtrT || seen[v.Pointer()] {
			return
		}
		seen[v.Pointer()] = true
		walkHeaderSpecs(v.Elem(), seen, names)
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkHeaderSpecs(v.Index(i), seen, names)
		}
	case reflect.Interface:
		if !v.IsNil() {
			walkHeaderSpecs(v.Elem(), seen, names)
		}
	}
}

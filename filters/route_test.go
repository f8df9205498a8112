package filters

import "testing"

func TestTemplateMatch(t *testing.T) {
	cases := []struct {
		tpl, path string
		ok        bool
		params    map[string]string
	}{
		{"/crm/v3/objects/{object}/{id}", "/crm/v3/objects/contacts/42", true, map[string]string{"object": "contacts", "id": "42"}},
		{"/crm/v3/objects/{object}/{id}", "/crm/v3/objects/contacts/42/", true, map[string]string{"id": "42"}},
		{"/crm/v3/objects/{object}/{id}", "/crm/v3/objects/contacts", false, nil},
		{"/crm/v3/objects/{object}/{id}", "/crm/v3/objects/contacts/42/extra", false, nil},
		{"/crm/v3/objects/{object}", "/crm/v3/objects/contacts", true, map[string]string{"object": "contacts"}},
		{"/crm/v3/objects/{object}", "/crm/v3/objects/", false, nil},
		{"/v1/{object}/{id}", "/v1/contacts/", false, nil},
		{"/files/{path...}", "/files/a/b/c", true, map[string]string{"path": "a/b/c"}},
		{"/files/{path...}", "/files", false, nil},
		{"/hooks", "/hooks", true, nil},
		{"/hooks", "/hooks2", false, nil},
		{"/", "/", true, nil},
		{"/admin/api/{version}/products/{id}.json", "/admin/api/2024-10/products/632910392.json", true, map[string]string{"version": "2024-10", "id": "632910392"}},
		{"/admin/api/{version}/products/{id}.json", "/admin/api/2024-10/products/632910392", false, nil},
		{"/admin/api/{version}/products/{id}.json", "/admin/api/2024-10/products/.json", false, nil},
		{"/admin/api/{version}/products.json", "/admin/api/2024-10/products.json", true, map[string]string{"version": "2024-10"}},
	}
	for _, c := range cases {
		t.Run(c.tpl+" "+c.path, func(t *testing.T) {
			tp, err := CompileTemplate(c.tpl)
			if err != nil {
				t.Fatal(err)
			}
			var p Params
			if got := tp.Match(c.path, &p); got != c.ok {
				t.Fatalf("Match(%q) = %v, want %v", c.path, got, c.ok)
			}
			for k, v := range c.params {
				if g, _ := p.Get(k); g != v {
					t.Errorf("param %s = %q, want %q", k, g, v)
				}
			}
		})
	}
}

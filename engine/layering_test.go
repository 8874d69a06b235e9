package engine

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/mailplan/mailplan/"

// TestLayering enforces the one-way dependency rules of STYLE.md: the
// engine never imports resources or the CLI; resource packages import only
// the resource contract, addresses and transports, never each other; leaf
// packages import nothing of mailplan; the CLI imports only the engine
// facade, render and the list of types.
func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		checked++
		pkg := strings.TrimPrefix(p.ImportPath, module)
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			if why := forbidden(pkg, dep); why != "" {
				t.Errorf("%s imports %s: %s", pkg, dep, why)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d packages listed", checked)
	}
}

func forbidden(pkg, dep string) string {
	under := func(p, root string) bool { return p == root || strings.HasPrefix(p, root+"/") }
	switch {
	case pkg == "cmd/mailplan":
		if dep != "engine" && dep != "engine/render" && dep != "resources/all" {
			return "the CLI imports only the engine facade, engine/render and resources/all"
		}
	case pkg == "engine/addrs" || pkg == "engine/dag":
		return "a leaf package imports nothing of mailplan"
	case under(pkg, "engine") && (under(dep, "resources") || under(dep, "cmd")):
		return "the engine never imports resources or the CLI"
	case under(pkg, "resources/transport") || pkg == "resources/testbed":
		if under(dep, "engine") && dep != "engine/resource" && dep != "engine/addrs" {
			return "transports know only the resource contract"
		}
		if under(dep, "resources") && !under(dep, "resources/transport") && dep != "resources/testbed" {
			return "transports never import resource types"
		}
	case pkg == "resources/all" || pkg == "resources/resourcetest":
		return ""
	case under(pkg, "resources"):
		group := strings.SplitN(strings.TrimPrefix(pkg, "resources/"), "/", 2)[0]
		switch {
		case dep == "engine/resource" || dep == "engine/addrs":
		case under(dep, "resources/transport") || dep == "resources/testbed" || dep == "resources/resourcetest":
		case under(dep, "resources/"+group):
		default:
			return "resource packages import only engine/resource, engine/addrs and transports"
		}
	}
	return ""
}

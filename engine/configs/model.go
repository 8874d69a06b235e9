package configs

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// FileSuffix is the suffix of the files mailplan loads.
const FileSuffix = ".mp.hcl"

// Module is one directory of *.mp.hcl files.
type Module struct {
	// Dir is the directory, as given to the loader (relative or absolute).
	Dir string
	// Path is the chain of module call names from the root (nil for root).
	Path []string

	Mailplan    *Mailplan
	Variables   map[string]*Variable
	Locals      map[string]*Local
	Outputs     map[string]*Output
	Hosts       map[string]*Host
	DNSServers  map[string]*DNSServer
	Resources   map[string]*Resource // by "TYPE.NAME"
	ModuleCalls map[string]*ModuleCall
	// Moved and Removed are the module's moved and removed blocks, in
	// file and line order.
	Moved   []*Moved
	Removed []*Removed

	// Children are the modules the calls load, by call name.
	Children map[string]*Module
}

// Mailplan is the `mailplan {}` settings block (root module only).
type Mailplan struct {
	RequiredVersion      string
	RequiredVersionRange hcl.Range
	Backend              *Backend
	DeclRange            hcl.Range
}

// Backend is `backend "TYPE" { ... }` inside the mailplan block.
type Backend struct {
	Type      string
	Config    hcl.Body
	DeclRange hcl.Range
}

// Variable is a `variable "NAME"` block.
type Variable struct {
	Name        string
	Description string
	Type        cty.Type // cty.DynamicPseudoType when not constrained
	TypeDefault bool     // true when no type was given
	Default     cty.Value
	HasDefault  bool
	Sensitive   bool
	Validations []*Validation
	DeclRange   hcl.Range
}

// Validation is a variable's `validation {}` block.
type Validation struct {
	Condition    hcl.Expression
	ErrorMessage hcl.Expression
	DeclRange    hcl.Range
}

// Local is one entry of a `locals {}` block.
type Local struct {
	Name      string
	Expr      hcl.Expression
	DeclRange hcl.Range
}

// Output is an `output "NAME"` block.
type Output struct {
	Name        string
	Description string
	Expr        hcl.Expression
	Sensitive   bool
	DependsOn   []hcl.Traversal
	DeclRange   hcl.Range
}

// Host is a `host "NAME"` block; its attributes are evaluated by lang.
type Host struct {
	Name      string
	Config    hcl.Body
	DeclRange hcl.Range
}

// DNSServer is a `dns_server "NAME"` block.
type DNSServer struct {
	Name      string
	Config    hcl.Body
	DeclRange hcl.Range
}

// Resource is a `resource "TYPE" "NAME"` block.
type Resource struct {
	Type      string
	Name      string
	Count     hcl.Expression // nil when absent
	ForEach   hcl.Expression // nil when absent
	DependsOn []hcl.Traversal
	// During lists what a window (a type that implements
	// resource.Windower) covers; DuringRange is the argument's name.
	During      []hcl.Traversal
	DuringRange hcl.Range
	Lifecycle   Lifecycle
	Hooks       []*Hook
	// Config is the body less the meta arguments; lang decodes it against
	// the type's schema.
	Config    hcl.Body
	DeclRange hcl.Range
	TypeRange hcl.Range
}

// Addr is "TYPE.NAME".
func (r *Resource) Addr() string { return r.Type + "." + r.Name }

// Lifecycle is a resource's `lifecycle {}` block.
type Lifecycle struct {
	PreventDestroy hcl.Expression // nil when absent
	IgnoreChanges  []hcl.Traversal
	// IgnoreAll is `ignore_changes = all`.
	IgnoreAll bool
}

// Hook is a `hook "WHEN"` block.
type Hook struct {
	When      string // one of HookKinds
	Host      hcl.Expression
	Command   hcl.Expression
	DeclRange hcl.Range
}

// HookKinds are the valid labels of hook blocks.
var HookKinds = []string{"before_apply", "after_apply", "before_destroy", "after_destroy", "on_rollback"}

// ModuleCall is a `module "NAME"` block.
type ModuleCall struct {
	Name        string
	Source      string
	SourceRange hcl.Range
	Count       hcl.Expression
	ForEach     hcl.Expression
	DependsOn   []hcl.Traversal
	// Inputs are the call's other arguments, by name.
	Inputs    map[string]*hcl.Attribute
	DeclRange hcl.Range
}

// declRange is where a named block is declared, for declare.
func (v *Variable) declRange() hcl.Range   { return v.DeclRange }
func (l *Local) declRange() hcl.Range      { return l.DeclRange }
func (o *Output) declRange() hcl.Range     { return o.DeclRange }
func (h *Host) declRange() hcl.Range       { return h.DeclRange }
func (d *DNSServer) declRange() hcl.Range  { return d.DeclRange }
func (r *Resource) declRange() hcl.Range   { return r.DeclRange }
func (c *ModuleCall) declRange() hcl.Range { return c.DeclRange }

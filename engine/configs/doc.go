// Package configs turns the *.mp.hcl files of a plan directory, and of the
// modules it calls, into a static model: blocks with their names, meta
// arguments and unevaluated expressions. It parses and checks structure; it
// never evaluates (engine/lang does) and knows no resource type.
//
// It also formats files for `mailplan fmt` through hclwrite.
package configs

// Package resource is the contract between the engine and every resource
// type: the Type interface with its request and response structs, the
// attribute schema the engine decodes configuration with, the optional
// Validator, Claimer and PlanChecker interfaces, and the Registry that
// lists the types a run knows.
//
// It does not know any resource type by name, nor how hosts are reached: the
// engine passes host and DNS server blocks as values (see HostFromValue), and
// the types resolve them through resources/transport.
package resource

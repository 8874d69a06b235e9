// Package all is the one explicit list of every resource type mailplan
// knows. There is no init() registration and no blank import: a type exists
// when it is listed here.
package all

// Package console is loopguard's admin console.
package console

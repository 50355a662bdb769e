// Package grelconfig is grelmicro's config contract: one resolver that every
// pattern and component uses to fill its Config, so that every knob of an app
// is set the same way and can be described and reloaded the same way.
//
// # Resolution order
//
// Each field of a Config is resolved once, at construction, from the first of:
//
//  1. an explicit option in code (a [Setting], made by [Field.Set]);
//  2. GREL_{KIND}_{NAME}_{FIELD}, the instance's own variable;
//  3. GREL_{KIND}_{FIELD}, the variable of every instance of the kind;
//  4. the field's documented default.
//
// KIND is the pattern's kind (LOCK, RATELIMIT, ...). NAME is the instance name
// normalised by [NormalizeName]: upper-cased, every character outside
// [A-Z0-9_] turned into '_', runs of '_' collapsed and trimmed. The default
// instance (empty name) has no NAME segment. A non-empty name that normalises
// to nothing is an error ([ErrInvalidName]).
//
// # Sources
//
// Values come from a [Source]: the process environment ([Env]), a map ([Map],
// for tests), a directory of files named after the variables ([Dir], how
// Kubernetes mounts a ConfigMap or a Secret), or several of those ([Layered]).
// Setting GREL_ENV_LOAD=false in the source turns every GREL_* variable off;
// vendor variables that providers read (REDIS_URL, DATABASE_URL, ...) are not
// affected.
//
// # Errors
//
// A value that does not parse or breaks a field's rule fails resolution with
// an [*Error] that names the variable, the field and the reason. It never
// contains the value, which may be a secret. All errors of one resolution are
// returned together (errors.Join). A variable at an instance address that
// sets a field of another algorithm than the instance's is an error too.
//
// # Describe and reload
//
// A [Registry] carries the source, records every variable an app resolved
// (type, default, effective value with secrets redacted, and where it came
// from, see [Registry.Describe]) and knows every live [Reloadable] instance:
// [Registry.Reload] re-resolves them all from a source and applies each new
// config through the instance's Reconfigure; a refused value leaves that
// instance's running config in place and is reported. [Registry.Watch]
// applies changes of a [DirSource] live.
//
// # Non-guarantees
//
// The environment tunes values only: it never chooses a name, an algorithm or
// a backend. A Reload changes tunable values; identity fields are the
// instance's to refuse. Sources are read at resolution time; a process
// environment changed later is seen only by a later Reload.
package grelconfig

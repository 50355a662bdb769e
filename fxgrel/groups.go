package fxgrel

// HealthChecksGroup is the Fx value group through which providers and
// patterns contribute their grelhealth.Check values to the health module.
const HealthChecksGroup = "grel.health.checks"

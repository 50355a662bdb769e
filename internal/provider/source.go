package provider

import grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"

// FieldSource says where the value of one field that Spec.Resolve filled
// for instance came from, as reg recorded it: its origin and, when a
// variable gave it, that variable (GREL_KUBE_CONTEXT, or
// GREL_KUBE_OTHER_CONTEXT for the instance "other"). key is the field's
// variable suffix (Field.Key), field its Go name (Field.Name). A field reg
// has no record of is reported as the default.
func FieldSource(reg *grelconfig.Registry, kind, instance, key, field string) (grelconfig.Origin, string) {
	for _, e := range reg.Describe() {
		if e.Kind != kind || e.Instance != instance || e.Field != field {
			continue
		}
		switch e.Origin {
		case grelconfig.OriginInstance:
			return e.Origin, e.Variable
		case grelconfig.OriginKind:
			return e.Origin, grelconfig.KindVariable(kind, key)
		}
		return e.Origin, ""
	}
	return grelconfig.OriginDefault, ""
}

// FieldError is a *grelconfig.Error for a value that resolved fine but that
// the provider then found unusable (a kubeconfig context that does not
// exist): it names where the value came from ([FieldSource]) and reason,
// never the value.
func FieldError(reg *grelconfig.Registry, kind, instance, key, field, reason string) *grelconfig.Error {
	origin, variable := FieldSource(reg, kind, instance, key, field)
	return &grelconfig.Error{Variable: variable, Field: field, Origin: origin, Reason: reason}
}

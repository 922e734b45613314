package scenarios

import (
	"fmt"
	"strings"

	"meshgym/internal/yamlnode"
)

// decodeConditions reads a list of success conditions in any of the
// spellings: a one-line string, the long form {condition, value,
// tolerance}, or the book's "- metric[selector]:" item with value and
// tolerance nested under it, beside it, or as its scalar value.
func (d *decoder) decodeConditions(n *node, field string) []Condition {
	items, ok := d.list(n, "conditions", field)
	if !ok {
		return nil
	}
	var out []Condition
	for i, it := range items {
		ifield := fmt.Sprintf("%s[%d]", field, i)
		path := fmt.Sprintf("conditions[%d]", len(out))
		c, ok := d.decodeCondition(it, ifield)
		if !ok {
			continue
		}
		c.Pos = Position{File: d.p.file, Line: it.At.Line, Column: it.At.Col}
		d.ref(path, it, ifield)
		out = append(out, c)
	}
	return out
}

const conditionHint = `write - request_count[name=payments, status_code=200]: {value: 100%} or - {condition: 'request_count[name=payments]', value: '100%'}`

func (d *decoder) decodeCondition(it *node, field string) (Condition, bool) {
	switch it.Kind {
	case yamlnode.Scalar:
		c, notes, iss := parseCondString(it.Text)
		if iss != nil {
			d.condIssue(iss, it, it, nil, field)
			return Condition{}, false
		}
		d.condNote(field, it.Text, "", c, notes)
		return c, true
	case yamlnode.Map:
	default:
		d.fail("", it, field, conditionHint, "expected a condition, found %s", describe(it))
		return Condition{}, false
	}

	// Long form: {condition: ..., value: ..., tolerance: ...}.
	if k, _ := it.Lookup("condition"); k != nil {
		m := d.fields(it, "", field, conditionHint, key{name: "condition"}, key{name: "value"}, key{name: "tolerance"})
		ce, ok := m["condition"]
		if !ok || ce.val.Kind != yamlnode.Scalar {
			if ok {
				d.fail("", ce.val, field+".condition", conditionHint, "expected a condition such as request_count[name=payments], found %s", describe(ce.val))
			}
			return Condition{}, false
		}
		tol, ok := d.tolerance(m, field)
		if !ok {
			return Condition{}, false
		}
		ve, hasValue := m["value"]
		if !hasValue {
			c, notes, iss := parseCondString(ce.val.Text)
			if iss != nil {
				d.condIssue(iss, ce.val, ce.val, nil, field+".condition")
				return Condition{}, false
			}
			if tol != nil {
				if c.Tolerance != nil {
					d.fail("", m["tolerance"].val, field+".tolerance", "keep one", "tolerance given twice (also in the condition text)")
					return Condition{}, false
				}
				c2, _, iss := parseCond(c.Selector(), c.ValueString(), tol)
				if iss != nil {
					d.condIssue(iss, ce.val, ce.val, m["tolerance"].val, field)
					return Condition{}, false
				}
				c = c2
			}
			d.condNote(field, ce.val.Text, "", c, notes)
			return c, true
		}
		vtext, ok := d.condValue(ve.val, field+".value")
		if !ok {
			return Condition{}, false
		}
		c, notes, iss := parseCond(ce.val.Text, vtext, tol)
		if iss != nil {
			d.condIssue(iss, ce.val, ve.val, tolNode(m), field)
			return Condition{}, false
		}
		d.condNote(field, ce.val.Text, vtext, c, notes)
		return c, true
	}

	// Book spelling: one metric key; value/tolerance nested or beside it.
	var metricKey, metricVal *node
	var sibling = &node{Kind: yamlnode.Map, At: it.At}
	for i, k := range it.Keys {
		switch k.Text {
		case "value", "tolerance":
			sibling.Keys = append(sibling.Keys, k)
			sibling.Vals = append(sibling.Vals, it.Vals[i])
			continue
		}
		if metricKey != nil {
			d.fail("", k, field, "start each condition with its own -", "two metrics in one condition: %s and %s", fieldKey(metricKey.Text), fieldKey(k.Text))
			return Condition{}, false
		}
		metricKey, metricVal = k, it.Vals[i]
	}
	if metricKey == nil {
		d.fail("", it, field, conditionHint, "condition has no metric")
		return Condition{}, false
	}
	var vm map[string]entry
	var scalarValue *node
	switch metricVal.Kind {
	case yamlnode.Null:
		vm = d.fields(sibling, "", field, conditionHint, key{name: "value"}, key{name: "tolerance"})
	case yamlnode.Map:
		if len(sibling.Keys) > 0 {
			d.fail("", sibling.Keys[0], field+"."+sibling.Keys[0].Text, "indent value: and tolerance: the same way, under the metric", "%s is given both under %s and beside it", sibling.Keys[0].Text, fieldKey(metricKey.Text))
			return Condition{}, false
		}
		vm = d.fields(metricVal, "", field+"."+fieldKey(metricKey.Text), conditionHint, key{name: "value"}, key{name: "tolerance"})
	case yamlnode.Scalar:
		scalarValue = metricVal
		if k, _ := sibling.Lookup("value"); k != nil {
			d.fail("", k, field+".value", "keep one: either - "+fieldKey(metricKey.Text)+": <value> or value: under it", "value given twice (also as %s: %s)", fieldKey(metricKey.Text), clip(metricVal.Text))
			return Condition{}, false
		}
		vm = d.fields(sibling, "", field, conditionHint, key{name: "tolerance"})
	default:
		d.fail("", metricVal, field+"."+fieldKey(metricKey.Text), conditionHint, "expected a value or value:/tolerance:, found %s", describe(metricVal))
		return Condition{}, false
	}
	tol, ok := d.tolerance(vm, field)
	if !ok {
		return Condition{}, false
	}
	valNode := scalarValue
	if valNode == nil {
		ve, ok := vm["value"]
		if !ok {
			d.fail("", metricKey, field, `write value: "< 100ms" under the metric, or - `+fieldKey(metricKey.Text)+`: 100ms`, "condition %s has no value", fieldKey(metricKey.Text))
			return Condition{}, false
		}
		valNode = ve.val
	} else {
		d.note("%s: %s: %s has no value: key; read %s as its value", field, metricKey.Text, scalarValue.Text, scalarValue.Text)
	}
	vtext, ok := d.condValue(valNode, field+".value")
	if !ok {
		return Condition{}, false
	}
	c, notes, iss := parseCond(metricKey.Text, vtext, tol)
	if iss != nil {
		d.condIssue(iss, metricKey, valNode, tolNode(vm), field)
		return Condition{}, false
	}
	d.condNote(field, metricKey.Text, vtext, c, notes)
	return c, true
}

func tolNode(m map[string]entry) *node {
	if e, ok := m["tolerance"]; ok {
		return e.val
	}
	return nil
}

// condValue reads a condition's value node as text.
func (d *decoder) condValue(n *node, field string) (string, bool) {
	if n == nil || n.Kind != yamlnode.Scalar {
		what := "nothing"
		if n != nil {
			what = describe(n)
		}
		d.fail("", n, field, `write a value such as "> 180", "< 100ms", 2000 or 50%`, "expected a value, found %s", what)
		return "", false
	}
	return n.Text, true
}

// tolerance reads an optional tolerance: a number or "0.1%", in percent.
func (d *decoder) tolerance(m map[string]entry, field string) (*float64, bool) {
	e, ok := m["tolerance"]
	if !ok {
		return nil, true
	}
	if e.val.Kind == yamlnode.Null {
		return nil, true
	}
	f := field + ".tolerance"
	s, ok := d.scalar(e.val, "", f, "a number such as 0.1", "write the tolerance as a number such as 0.1 (percent)")
	if !ok {
		return nil, false
	}
	t, _ := stripTypographic(s)
	v, err := parseFloat(strings.TrimSuffix(strings.TrimSpace(t), "%"))
	if err != nil {
		d.fail("", e.val, f, "write the tolerance as a number such as 0.1 (percent)", "expected a number, found %s", describe(e.val))
		return nil, false
	}
	return &v, true
}

// condIssue reports a condition parse problem at its exact place: the
// metric key (plus the offset into it), the value, or the tolerance.
func (d *decoder) condIssue(iss *condIssue, metricNode, valueNode, tolNode *node, field string) {
	var at pos
	switch iss.part {
	case partMetric:
		at = offsetPos(metricNode, iss.off)
	case partValue:
		if valueNode == metricNode {
			at = offsetPos(metricNode, iss.off)
		} else {
			at = offsetPos(valueNode, iss.off)
			field += ".value"
		}
	case partTolerance:
		if tolNode != nil {
			at = tolNode.At
			field += ".tolerance"
		} else {
			at = offsetPos(metricNode, iss.off)
		}
	}
	d.p.add(at, field, iss.hint, "%s", iss.msg)
}

func offsetPos(n *node, off int) pos {
	if n == nil {
		return pos{}
	}
	at := n.At
	if n.Quoted {
		at.Col++
	}
	if !strings.ContainsAny(n.Text, "\n\\") {
		at.Col += off
	}
	return at
}

func (d *decoder) condNote(field, metric, value string, c Condition, notes []string) {
	written := metric
	if value != "" {
		written += " " + value
	}
	msg := fmt.Sprintf("%s: %s read as %s", field, strings.TrimSpace(written), c.String())
	if len(notes) > 0 {
		msg += " (" + strings.Join(notes, "; ") + ")"
	}
	d.notes = append(d.notes, msg)
}

// Command luahealth runs an Argo CD resource health script the way Argo CD does: in gopher-lua (the Lua 5.1 engine
// Argo CD embeds), with the live object as the global `obj` (JSON turned into Lua tables, null dropped), and the
// health status read from the table the script returns. Input on stdin: {"script": "...", "objects": [...]};
// output: a JSON array of {"status", "message"}, one per object, each run in a fresh VM.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	lua "github.com/yuin/gopher-lua"
)

type input struct {
	Script  string        `json:"script"`
	Objects []interface{} `json:"objects"`
}

type health struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// toLua turns a decoded JSON value into a Lua value: objects and arrays become tables, null becomes nil.
func toLua(L *lua.LState, v interface{}) lua.LValue {
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(x)
	case float64:
		return lua.LNumber(x)
	case string:
		return lua.LString(x)
	case []interface{}:
		t := L.NewTable()
		for _, e := range x {
			t.Append(toLua(L, e))
		}
		return t
	case map[string]interface{}:
		t := L.NewTable()
		for k, e := range x {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	}
	panic(fmt.Sprintf("not JSON: %T", v))
}

// run executes the script with obj set, in a VM with only the libraries a health script may use.
func run(script string, obj interface{}) (health, error) {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(script); err != nil {
		return health{}, err
	}
	ret, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		return health{}, fmt.Errorf("expect table output from Lua script, not %s", L.Get(-1).Type())
	}
	h := health{}
	if s, ok := ret.RawGetString("status").(lua.LString); ok {
		h.Status = string(s)
	} else {
		return health{}, fmt.Errorf("Lua returned no string status")
	}
	if m, ok := ret.RawGetString("message").(lua.LString); ok {
		h.Message = string(m)
	}
	return h, nil
}

func main() {
	var in input
	data, err := io.ReadAll(os.Stdin)
	if err == nil {
		err = json.Unmarshal(data, &in)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "luahealth: reading {script, objects} from stdin:", err)
		os.Exit(2)
	}
	out := make([]health, 0, len(in.Objects))
	for i, o := range in.Objects {
		h, err := run(in.Script, o)
		if err != nil {
			fmt.Fprintf(os.Stderr, "luahealth: object %d: %v\n", i, err)
			os.Exit(1)
		}
		out = append(out, h)
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

# A small stand-in for nixpkgs' lib: just what nix/module.nix and nix/package.nix use, with the
# module system's checks that matter here (unknown options and wrong types are evaluation errors).
let
  inherit (builtins) attrNames elem filter head isAttrs isBool isInt isList isString length listToAttrs mapAttrs;
  mkType = name: check: merge: { _type = "option-type"; inherit name check merge; };
  simple = name: check: mkType name check (path: v: if check v then v else throw "A definition for option `${path}' is not of type `${name}'.");
  isOption = v: isAttrs v && (v._type or null) == "option";
in
rec {
  types = {
    str = simple "string" isString;
    int = simple "signed integer" isInt;
    bool = simple "boolean" isBool;
    package = simple "package" (v: isAttrs v && v ? outPath);
    enum = values: simple "one of ${builtins.toJSON values}" (v: elem v values);
    nullOr = t: mkType "null or ${t.name}" (v: v == null || t.check v) (path: v: if v == null then null else t.merge path v);
    listOf = t: mkType "list of ${t.name}" isList (path: v:
      if isList v then builtins.genList (i: t.merge "${path}.[${toString i}]" (builtins.elemAt v i)) (length v)
      else throw "A definition for option `${path}' is not of type `list of ${t.name}'.");
    submodule = m: mkType "submodule" isAttrs (path: v:
      if isAttrs v then evalOptions path m.options v else throw "A definition for option `${path}' is not of type `submodule'.");
    addCheck = t: f: mkType t.name (v: t.check v && f v) (path: v:
      if t.check v && f v then t.merge path v else throw "A definition for option `${path}' is not of type `${t.name}' (with check).");
  };

  mkOption = attrs: attrs // { _type = "option"; };
  mkEnableOption = what: mkOption { type = types.bool; default = false; description = "Whether to enable ${what}."; };
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkForce = content: { _type = "override"; priority = 50; inherit content; };
  literalExpression = text: { _type = "literalExpression"; inherit text; };

  # the values of an option tree: defaults where nothing is defined, each definition type-checked
  evalOptions = path: opts: values:
    let unknown = filter (k: !(opts ? ${k})) (attrNames values);
    in
    if unknown != [ ] then throw "The option `${path}.${head unknown}' does not exist."
    else mapAttrs (name: opt:
      if isOption opt then
        (if values ? ${name} then opt.type.merge "${path}.${name}" values.${name}
         else if opt ? default then opt.default
         else throw "The option `${path}.${name}' is used but not defined.")
      else evalOptions "${path}.${name}" opt (values.${name} or { })) opts;

  # mkIf and mkForce, as the module system applies them to one module's config
  resolve = v:
    if isAttrs v && (v._type or null) == "if" then (if v.condition then resolve v.content else { })
    else if isAttrs v && (v._type or null) == "override" then resolve v.content
    else if isAttrs v && !(v ? outPath) then mapAttrs (_: resolve) v
    else if isList v then map resolve v
    else v;

  inherit mapAttrs;
  filterAttrs = pred: set: listToAttrs (map (name: { inherit name; value = set.${name}; }) (filter (name: pred name set.${name}) (attrNames set)));
  recursiveUpdate = a: b: a // mapAttrs (k: v: if isAttrs v && isAttrs (a.${k} or null) then recursiveUpdate a.${k} v else v) b;
  optionalAttrs = cond: set: if cond then set else { };
  hasPrefix = prefix: s: builtins.substring 0 (builtins.stringLength prefix) s == prefix;
  importJSON = path: builtins.fromJSON (builtins.readFile path);
  makeBinPath = pkgs: builtins.concatStringsSep ":" (map (p: "${p}/bin") pkgs);
  assertMsg = cond: msg: if cond then true else throw msg;
  licenses.mit = "MIT";
  platforms.linux = [ "x86_64-linux" ];
}

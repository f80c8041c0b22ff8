#!/usr/bin/env bash
# The packages as a user meets them: packs Edge (runtime + generator as analyzer), Edge.Models, Edge.Hosting and
# Edge.Templates into artifacts/packages, then, in a temporary directory outside the repository (a nuget.config adds the
# package folder beside the machine's sources; the template goes into a private template hive):
#   dotnet new edge-model; build (warnings are errors); train its model a few steps; generate; run its gradient-check
#   test; publish it with NativeAOT (zero warnings); the native binary trains, generates, and names the declaration it
#   lacks for another model's checkpoint; a broken declaration fails the build with its located EDGE diagnostic;
#   the README's API example (examples/api/Program.cs, which must appear verbatim in README.md) builds and runs.
# The packages get a version of their own for this run (0.1.0-check.TIME), removed from the NuGet cache at the end, so a
# check never restores a stale package of the same version.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
start=$SECONDS
step() { echo "package-check: $* ($((SECONDS - start)) s)"; }
fail() { echo "package-check: FAILED: $*" >&2; exit 1; }

# The API example in README.md is examples/api/Program.cs, verbatim (between its marker and the end of the block).
readme_example=$(awk '/^<!-- example: examples\/api\/Program.cs -->$/ {on=1; next} on && /^```csharp$/ {code=1; next} code && /^```$/ {exit} code {print}' README.md)
[ "$readme_example" == "$(cat examples/api/Program.cs)" ] || fail "README.md's API example differs from examples/api/Program.cs"

base=$(sed -n 's|.*<Version>\(.*\)</Version>.*|\1|p' Directory.Build.props | head -n 1)
version="$base-check.$(date -u +%Y%m%d%H%M%S)"
packages="$root/artifacts/packages"
work=$(mktemp -d)
cache="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
cleanup() {
  rm -rf "$work"
  for id in edge edge.models edge.hosting; do rm -rf "${cache:?}/$id/$version"; done
}
trap cleanup EXIT
case "$work" in "$root"/*) fail "the temporary directory $work is inside the repository";; esac

# Pack. The repository URL and commit are the checkout's (git remote origin, HEAD); an origin that is a local path
# (a clone of a clone) is no address for a package's users and is left out.
commit=$(git rev-parse HEAD)
props=(-c Release -nologo -v q "-p:Version=$version" "-p:RepositoryCommit=$commit")
repo_url=$(git remote get-url origin 2>/dev/null || true)
case "$repo_url" in https://*|http://*|git@*|ssh://*) props+=("-p:RepositoryUrl=$repo_url");; esac
mkdir -p "$packages"
rm -f "$packages"/*-check.*.nupkg
dotnet build src/Hosting "${props[@]}" > "$work/pack.log" 2>&1 || { cat "$work/pack.log"; fail "building the packages"; }
for p in src/Runtime src/Models src/Hosting; do
  dotnet pack "$p" --no-build "${props[@]}" -o "$packages" >> "$work/pack.log" 2>&1 || { cat "$work/pack.log"; fail "dotnet pack $p"; }
done
# The template project has nothing to compile, but a fresh clone has not restored it: pack it with its own restore.
dotnet pack templates "${props[@]}" -o "$packages" >> "$work/pack.log" 2>&1 || { cat "$work/pack.log"; fail "dotnet pack templates"; }
for id in Edge Edge.Models Edge.Hosting Edge.Templates; do [ -f "$packages/$id.$version.nupkg" ] || fail "no $id.$version.nupkg"; done
# The listing is read whole before it is searched: under pipefail, `unzip -l | grep -q` fails at random when grep stops
# reading early and unzip dies of SIGPIPE on a listing longer than the pipe's buffer.
listing=$(unzip -l "$packages/Edge.$version.nupkg")
grep -q "analyzers/dotnet/cs/Edge.Generators.dll" <<< "$listing" || fail "the generator is not in Edge's analyzers/dotnet/cs"
grep -q "lib/net10.0/Edge.Runtime.xml" <<< "$listing" || fail "Edge has no XML docs"
nuspec=$(unzip -p "$packages/Edge.Hosting.$version.nupkg" Edge.Hosting.nuspec)
for field in '<license type="expression">' '<readme>README.md</readme>' '<repository type="git"' '<description>'; do
  grep -qF "$field" <<< "$nuspec" || fail "Edge.Hosting's nuspec lacks $field"
done
step "packed $(cd "$packages" && ls ./*."$version".nupkg | sed 's|^\./||' | tr '\n' ' ')"

cat > "$work/nuget.config" << CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="edge-local" value="$packages" />
  </packageSources>
</configuration>
CONFIG
hive="$work/template-hive"
dotnet new install "$packages/Edge.Templates.$version.nupkg" --debug:custom-hive "$hive" > "$work/install.log" 2>&1 \
  || { cat "$work/install.log"; fail "dotnet new install"; }
cd "$work"
dotnet new edge-model -n Story --debug:custom-hive "$hive" > new.log 2>&1 || { cat new.log; fail "dotnet new edge-model"; }
grep -q "Version=\"$version\"" Story/Story/Story.csproj || fail "the new project does not reference Edge $version"
step "created Story from the template"

dotnet build Story/Story -c Release -nologo > build.log 2>&1 || { cat build.log; fail "building the new project"; }
story() { dotnet Story/Story/bin/Release/net10.0/Story.dll "$@"; }
story train my-model --steps 40 --eval-interval 20 --out m --quiet --sample 40 > train.log 2>&1 || { cat train.log; fail "Story train"; }
grep -q "saved m/model.safetensors" train.log || { cat train.log; fail "Story train saved no checkpoint"; }
story generate --model m/model.safetensors --tokens 60 --seed 1 --quiet > generated.txt 2>&1 || { cat generated.txt; fail "Story generate"; }
[ "$(wc -c < generated.txt)" -ge 20 ] || fail "Story generated almost nothing"
step "built, trained, generated: $(grep -E '^step' train.log | tail -n 1 | tr -s ' ')"

dotnet test Story/Story.Tests -c Release -nologo > test.log 2>&1 || { cat test.log; fail "the template's test"; }
step "template test: $(grep -E '^(Passed|Failed)!' test.log | head -n 1 | cut -d '-' -f 1-4)"

dotnet publish Story/Story -c Release -r linux-x64 -p:PublishAot=true -o publish -nologo > publish.log 2>&1 \
  || { cat publish.log; fail "publishing Story with NativeAOT"; }
if grep -E "warning [A-Z]+[0-9]+" publish.log; then fail "the NativeAOT publish has warnings"; fi
[ -x publish/Story ] || fail "no native publish/Story"
./publish/Story train my-model --steps 40 --eval-interval 20 --out native --quiet --sample 40 > native-train.log 2>&1 \
  || { cat native-train.log; fail "the native Story train"; }
grep -q "saved native/model.safetensors" native-train.log || fail "the native Story saved no checkpoint"
./publish/Story generate --model native/model.safetensors --tokens 60 --seed 1 --quiet > native.txt || fail "the native Story generate"
[ "$(wc -c < native.txt)" -ge 20 ] || fail "the native Story generated almost nothing"
step "NativeAOT: 0 warnings, $(stat -c %s publish/Story) bytes, trained and generated"

# The API example, built against the packed Edge; its checkpoint (model tiny-mlp) is one the Story host lacks.
cp -r "$root/examples/api" api
(cd api && dotnet build -c Release -nologo "-p:EdgeVersion=$version" > build.log 2>&1) || { cat api/build.log; fail "building the API example"; }
(cd api && dotnet bin/Release/net10.0/Api.dll > run.log 2>&1) || { cat api/run.log; fail "running the API example"; }
grep -q "val perplexity" api/run.log || { cat api/run.log; fail "the API example printed no perplexity"; }
step "API example: $(grep "val perplexity" api/run.log); $(tail -n 1 api/run.log | cut -c 1-60)"
set +e
./publish/Story generate --model api/tiny.safetensors > missing.log 2>&1
code=$?
set -e
[ $code -eq 1 ] && grep -qF "[LanguageModel(\"tiny-mlp\")] is missing" missing.log || { cat missing.log; fail "a checkpoint of a model Story lacks"; }
step "missing model: $(cut -c 1-160 missing.log)"

# A declaration error in the user's project: the generator in the package reports it at the attribute.
cp -r Story/Story Broken
rm -rf Broken/bin Broken/obj
sed -i '/^\[Flatten\]$/d' Broken/Model.cs
set +e
dotnet build Broken -c Release -nologo > broken.log 2>&1
code=$?
set -e
[ $code -ne 0 ] || fail "a model without [Flatten] before [Dense] built"
grep -qE "Model\.cs\([0-9]+,[0-9]+\): error EDGE009" broken.log || { cat broken.log; fail "no located EDGE009"; }
step "declaration error: $(grep -m 1 -oE "Model\.cs\([0-9]+,[0-9]+\): error EDGE009.*" broken.log | sed 's| \[/.*||')"
echo "package-check: passed in $((SECONDS - start)) s"

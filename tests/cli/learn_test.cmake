# lorahub learn on the fixture with the reference's settings: 40 evaluations
# recorded (each with its wall time), the first at w = 0 with the reference's objective, accuracy line
# printed; a malformed examples file is refused by name.
set(T "${SHARED}/fixtures/tiny-t5")
file(READ "${T}/golden.json" golden)
set(examples "${WORK}/learn-examples.jsonl")
file(WRITE "${examples}" "")
foreach(i RANGE 0 4)
  string(JSON input GET "${golden}" examples ${i} input)
  string(JSON target GET "${golden}" examples ${i} target)
  string(JSON row SET "{}" input "\"\"")
  string(JSON row SET "${row}" input "\"${input}\"")
  string(JSON row SET "${row}" output "\"${target}\"")
  string(REPLACE "\n" " " row "${row}")  # CMake pretty-prints JSON; JSONL wants one line
  file(APPEND "${examples}" "${row}\n")
endforeach()
execute_process(COMMAND ${LORAHUB} learn --model ${T}/base
                        --modules ${T}/lora/lora0 ${T}/lora/lora1 ${T}/lora/lora2 ${T}/lora/lora3 ${T}/lora/lora4
                        --examples ${examples} --eval ${examples} --max-new-tokens 12 --threads 1
                        --history ${WORK}/learn-history.json --export ${WORK}/learn-adapter
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "learn failed (${rc}): ${err}")
endif()
if(NOT out MATCHES "best objective [0-9.]+ after 40 evaluations" OR NOT out MATCHES "accuracy [0-9.]+ \\([0-5]/5\\)")
  message(FATAL_ERROR "unexpected output:\n${out}")
endif()
file(READ "${WORK}/learn-history.json" history)
string(JSON n LENGTH "${history}" evaluations)
string(JSON first GET "${history}" evaluations 0 objective)
string(JSON expected GET "${golden}" lorahub_learning evaluations 0 score)
if(NOT n EQUAL 40 OR NOT EXISTS ${WORK}/learn-adapter/adapter_model.safetensors)
  message(FATAL_ERROR "history has ${n} evaluations, adapter exported: no")
endif()
string(JSON seconds GET "${history}" evaluations 0 seconds)  # wall time of that evaluation's pass
if(NOT seconds GREATER 0)
  message(FATAL_ERROR "evaluation 0 has seconds '${seconds}', expected a positive wall time")
endif()
string(SUBSTRING "${first}" 0 7 first7)
string(SUBSTRING "${expected}" 0 7 expected7)
if(NOT first7 STREQUAL expected7)
  message(FATAL_ERROR "first objective ${first}, reference ${expected}")
endif()
file(WRITE "${WORK}/bad.jsonl" "{\"input\": \"x\"}\n")
execute_process(COMMAND ${LORAHUB} learn --model ${T}/base --modules ${T}/lora/lora0 --examples ${WORK}/bad.jsonl
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "bad.jsonl:1: field 'target': missing")
  message(FATAL_ERROR "bad examples: rc=${rc} err='${err}'")
endif()
# Gradient mode (--optimizer adamw): per-target CAT weights, 5 modules x the
# adapted projections, exported as a rank 5 * 4 PEFT adapter.
execute_process(COMMAND ${LORAHUB} learn --model ${T}/base
                        --modules ${T}/lora/lora0 ${T}/lora/lora1 ${T}/lora/lora2 ${T}/lora/lora3 ${T}/lora/lora4
                        --examples ${examples} --optimizer adamw --method cat --per-target --epochs 3
                        --train-batch-size 2 --weights-out ${WORK}/adamw-weights.json
                        --export ${WORK}/adamw-adapter --threads 1 --quiet
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES "adamw: 9 steps, kept step 9")
  message(FATAL_ERROR "learn --optimizer adamw failed (${rc}): ${out} ${err}")
endif()
file(READ "${WORK}/adamw-weights.json" weights)
string(JSON rows LENGTH "${weights}" weights)
string(JSON cols LENGTH "${weights}" weights 0)
string(JSON ntargets LENGTH "${weights}" targets)
file(READ "${WORK}/adamw-adapter/adapter_config.json" config)
string(JSON r GET "${config}" r)
if(NOT rows EQUAL 5 OR NOT cols EQUAL ntargets OR NOT r EQUAL 20)
  message(FATAL_ERROR "adamw weights ${rows} x ${cols} (${ntargets} targets), exported r = ${r}")
endif()

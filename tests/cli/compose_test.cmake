# lorahub compose --merge, then lorahub generate on the merged model, must
# print the reference's greedy text under the LoraHub composition.
set(T "${SHARED}/fixtures/tiny-t5")
set(out "${WORK}/compose-merged")
file(REMOVE_RECURSE "${out}")
execute_process(COMMAND ${LORAHUB} compose --model ${T}/base
                        --modules ${T}/lora/lora0 ${T}/lora/lora1 ${T}/lora/lora2 ${T}/lora/lora3 ${T}/lora/lora4
                        --weights=0.5,-0.3,1.2,0.0,0.7 --out ${out} --merge --threads 1
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "compose failed (${rc}): ${err}")
endif()
set(input "Evaluate the result of a random Boolean expression.\n\nQ: not ( True ) and ( True ) is\nA:")
execute_process(COMMAND ${LORAHUB} generate --model ${out} --input "${input}" --max-new-tokens 12 --threads 1
                OUTPUT_VARIABLE text RESULT_VARIABLE rc)
string(STRIP "${text}" text)
file(READ "${T}/golden.json" golden)
string(JSON expected GET "${golden}" lorahub_composition greedy single 1 text)
if(NOT rc EQUAL 0 OR NOT text STREQUAL expected)
  message(FATAL_ERROR "merged model printed '${text}', expected '${expected}'")
endif()
# Wrong number of weights: one line naming the flag, non-zero exit, nothing written.
execute_process(COMMAND ${LORAHUB} compose --model ${T}/base --modules ${T}/lora/lora0 --weights=0.5,1 --out ${WORK}/never
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "--weights: 2 weights for 1 modules" OR EXISTS ${WORK}/never)
  message(FATAL_ERROR "bad --weights: rc=${rc} err='${err}'")
endif()
# Merge methods: an svd adapter of the asked rank, a ties merge folded into a checkpoint.
set(mods ${T}/lora/lora0 ${T}/lora/lora1 ${T}/lora/lora2 ${T}/lora/lora3 ${T}/lora/lora4)
file(REMOVE_RECURSE "${WORK}/compose-svd" "${WORK}/compose-ties")
execute_process(COMMAND ${LORAHUB} compose --model ${T}/base --modules ${mods} --weights=0.5,-0.3,1.2,0.0,0.7
                        --method svd --svd-rank 2 --svd-clamp 0.99 --out ${WORK}/compose-svd --threads 1
                RESULT_VARIABLE rc ERROR_VARIABLE err)
file(READ "${WORK}/compose-svd/adapter_config.json" config)
string(JSON r GET "${config}" r)
string(JSON alpha GET "${config}" lora_alpha)
if(NOT rc EQUAL 0 OR NOT r EQUAL 2 OR NOT alpha EQUAL 2)
  message(FATAL_ERROR "compose --method svd: rc=${rc} r=${r} lora_alpha=${alpha} ${err}")
endif()
execute_process(COMMAND ${LORAHUB} compose --model ${T}/base --modules ${mods} --weights=0.5,-0.3,1.2,0.0,0.7
                        --method ties --density 0.5 --majority-sign frequency --merge --out ${WORK}/compose-ties
                        --threads 1
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/compose-ties/model.safetensors OR NOT EXISTS ${WORK}/compose-ties/spiece.model)
  message(FATAL_ERROR "compose --method ties --merge: rc=${rc} ${err}")
endif()

# End-to-end test of the reckon command line: every command run with --json must exit 0 and print one JSON object
# holding the documented fields, and bad input must fail with a message. Run by CTest as
#   cmake -DRECKON=<path to reckon> -DWORK=<scratch dir> -P cli_test.cmake
cmake_minimum_required(VERSION 3.19)  # string(JSON)

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

# run(<out-var> args...): runs reckon, fails unless it exits 0 and its stdout is one JSON object.
function(run out)
  execute_process(COMMAND "${RECKON}" ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr
                  WORKING_DIRECTORY "${WORK}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "reckon ${ARGN} exited ${rc}: ${stderr}")
  endif()
  string(STRIP "${stdout}" stdout)
  string(JSON type ERROR_VARIABLE json_error TYPE "${stdout}")
  if(json_error OR NOT type STREQUAL "OBJECT")
    message(FATAL_ERROR "reckon ${ARGN} did not print one JSON object: ${stdout}")
  endif()
  set(${out} "${stdout}" PARENT_SCOPE)
endfunction()

# expect(<json> <member path...> <op> <value>): a numeric comparison (op: GREATER, LESS, EQUAL).
function(expect json)
  list(POP_BACK ARGN value)
  list(POP_BACK ARGN op)
  string(JSON got GET "${json}" ${ARGN})
  if(NOT got ${op} ${value})
    message(FATAL_ERROR "${ARGN} = ${got}, expected ${op} ${value}")
  endif()
endfunction()

# fails(<needle> args...): reckon must exit non-zero and say <needle> on stderr.
function(fails needle)
  execute_process(COMMAND "${RECKON}" ${ARGN} RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE stderr
                  WORKING_DIRECTORY "${WORK}")
  if(rc EQUAL 0)
    message(FATAL_ERROR "reckon ${ARGN} succeeded; expected a failure saying '${needle}'")
  endif()
  string(FIND "${stderr}" "${needle}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "reckon ${ARGN} failed without saying '${needle}': ${stderr}")
  endif()
endfunction()

run(info info --json)

# CTR: synthetic log -> train (with checkpoint and stage profile) -> predict.
run(synth ctr synth --rows 6000 --test 1000 --seed 3 --out ctr --json)
run(trained ctr train --model fm --train ctr/train.txt --valid ctr/test.txt --epochs 1 --batch 512 --device cpu
    --profile --save fm.ckpt --json)
expect("${trained}" auc GREATER 0.5)
expect("${trained}" stage_profile steps GREATER 0)
# Without --json each epoch is reported on stderr as it ends, terminal or not; with --json stderr stays quiet.
execute_process(COMMAND "${RECKON}" ctr train --model lr --train ctr/train.txt --valid ctr/test.txt --epochs 2
                        --device cpu RESULT_VARIABLE rc OUTPUT_VARIABLE text_stdout ERROR_VARIABLE text_stderr
                WORKING_DIRECTORY "${WORK}")
if(NOT rc EQUAL 0 OR NOT text_stderr MATCHES "epoch 1/2: 6000 samples in .*valid AUC 0\\.[0-9]+.*epoch 2/2")
  message(FATAL_ERROR "ctr train showed no progress per epoch on stderr: ${text_stderr}")
endif()
execute_process(COMMAND "${RECKON}" ctr train --model lr --train ctr/train.txt --epochs 1 --device cpu --json
                OUTPUT_QUIET ERROR_VARIABLE json_stderr WORKING_DIRECTORY "${WORK}")
if(json_stderr MATCHES "epoch")
  message(FATAL_ERROR "ctr train --json wrote progress on stderr: ${json_stderr}")
endif()
# Resumed: the step count continues from the checkpoint's.
run(resumed ctr train --resume fm.ckpt --train ctr/train.txt --valid ctr/test.txt --epochs 1 --batch 512
    --device cpu --save fm2.ckpt --json)
string(JSON first_steps GET "${trained}" steps)
expect("${resumed}" start_step EQUAL ${first_steps})
math(EXPR twice "2 * ${first_steps}")
expect("${resumed}" steps EQUAL ${twice})
expect("${resumed}" sparse_learning_rate GREATER 0.00099)  # the checkpoint's rates (1e-3)
# --lr with --resume sets the continued run's rates; an option naming another architecture is refused.
run(refined ctr train --resume fm.ckpt --model fm --lr 0.0002 --train ctr/train.txt --epochs 1 --batch 512
    --device cpu --json)
expect("${refined}" sparse_learning_rate LESS 0.00021)
expect("${refined}" dense_learning_rate GREATER 0.00019)
# No validation data: AUC and logloss are null, not a made-up 0.
string(JSON auc_type TYPE "${refined}" auc)
string(JSON epoch_auc_type TYPE "${refined}" epoch_results 0 logloss)
if(NOT auc_type STREQUAL "NULL" OR NOT epoch_auc_type STREQUAL "NULL")
  message(FATAL_ERROR "ctr train without --valid reported auc ${auc_type}, epoch logloss ${epoch_auc_type}")
endif()
fails("--model differs from the checkpoint's (fm)" ctr train --resume fm.ckpt --model deepfm --train ctr/train.txt
      --device cpu --json)
fails("--min-count cannot apply with --resume" ctr train --resume fm.ckpt --min-count 2 --train ctr/train.txt
      --device cpu --json)
fails("not a reckon checkpoint" ctr train --resume ctr/test.txt --train ctr/train.txt --json)
# Parameter groups: embeddings and dense layers with their own optimizer and rate, weight decay on the MLP; kept by
# the checkpoint, a rate changed on resuming, a different optimizer refused.
run(grouped ctr train --model dnn --hidden 8 --train ctr/train.txt --epochs 1 --batch 512 --device cpu
    --embed-optimizer adagrad --dense-optimizer adam --embed-lr 0.02 --dense-lr 0.005 --weight-decay 0.01
    --tf32 --save grouped.ckpt --json)
expect("${grouped}" sparse_learning_rate GREATER 0.0199)
expect("${grouped}" dense_learning_rate LESS 0.0051)
expect("${grouped}" dense_weight_decay GREATER 0.0099)
string(JSON mlp_math GET "${grouped}" mlp_math)
if(NOT mlp_math STREQUAL "f32")
  message(FATAL_ERROR "ctr train on the CPU reported mlp_math ${mlp_math}")
endif()
string(JSON sparse_optimizer GET "${grouped}" sparse_optimizer)
string(JSON dense_optimizer GET "${grouped}" dense_optimizer)
if(NOT sparse_optimizer STREQUAL "rowwise-adagrad" OR NOT dense_optimizer STREQUAL "adam")
  message(FATAL_ERROR "--embed-optimizer adagrad --dense-optimizer adam gave ${sparse_optimizer}, ${dense_optimizer}")
endif()
run(regrouped ctr train --resume grouped.ckpt --embed-lr 0.001 --train ctr/train.txt --epochs 1 --batch 512
    --device cpu --json)
expect("${regrouped}" sparse_learning_rate LESS 0.0011)
expect("${regrouped}" dense_learning_rate GREATER 0.0049)  # the checkpoint's
expect("${regrouped}" dense_weight_decay GREATER 0.0099)
fails("--dense-optimizer differs from the checkpoint's" ctr train --resume grouped.ckpt --dense-optimizer sgd
      --train ctr/train.txt --device cpu --json)
# The saved file's header, without loading the model.
run(inspected inspect grouped.ckpt --json)
string(JSON inspected_kind GET "${inspected}" kind)
string(JSON inspected_first GET "${inspected}" entries 0 name)
if(NOT inspected_kind STREQUAL "ctr" OR NOT inspected_first STREQUAL "vocabulary")
  message(FATAL_ERROR "inspect grouped.ckpt: kind ${inspected_kind}, first entry ${inspected_first}")
endif()
expect("${inspected}" config step GREATER 0)
fails("not a reckon checkpoint" inspect ctr/train.txt --json)
fails("learning rate must be positive" ctr train --model lr --lr -1 --train ctr/train.txt --device cpu --json)
# Options are checked before any file is read (the training file named here does not exist).
fails("'x' is not a positive layer size" ctr train --model dnn --hidden 400,x --train absent.txt --json)
fails("batch size must be >= 1" ctr train --batch 0 --train absent.txt --json)
fails("--threads must be >= 0" ctr train --threads -1 --train absent.txt --json)
fails("subsampling threshold must be >= 0" item2vec train --input absent.txt --output v.txt --sample -1 --json)
fails("words per step must be >= 0" item2vec train --input absent.txt --output v.txt --batch-words -5 --json)
fails("dense weight decay must be >= 0" ctr train --model dnn --weight-decay -1 --train ctr/train.txt --device cpu
      --json)
run(predicted ctr predict --model fm.ckpt --data ctr/test.txt --out p.txt --device cpu --json)
expect("${predicted}" rows EQUAL 1000)
# The same rows without their label column (as Criteo's test file): scored alike, with no AUC to report.
file(READ "${WORK}/ctr/test.txt" labeled)
string(REGEX REPLACE "(^|\n)[01]\t" "\\1" unlabeled "${labeled}")
file(WRITE "${WORK}/ctr/unlabeled.txt" "${unlabeled}")
run(scored ctr predict --model fm.ckpt --data ctr/unlabeled.txt --out q.txt --device cpu --json)
expect("${scored}" rows EQUAL 1000)
string(JSON scored_labeled GET "${scored}" labeled)
string(JSON scored_auc TYPE "${scored}" auc)
if(scored_labeled OR NOT scored_auc STREQUAL "NULL")
  message(FATAL_ERROR "unlabeled rows: labeled ${scored_labeled}, auc ${scored_auc}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${WORK}/p.txt" "${WORK}/q.txt" RESULT_VARIABLE differ)
if(differ)
  message(FATAL_ERROR "unlabeled rows were scored differently from the same rows with labels")
endif()
fails("could be scored" ctr predict --model fm.ckpt --data ctr/unlabeled.txt --labels present --device cpu --json)
# Scoring that fails leaves no output file behind, not even a partial or temporary one.
fails("could be scored" ctr predict --model fm.ckpt --data ctr/unlabeled.txt --labels present --out failed.txt
      --device cpu --json)
if(EXISTS "${WORK}/failed.txt" OR EXISTS "${WORK}/failed.txt.tmp")
  message(FATAL_ERROR "a failed ctr predict left failed.txt or failed.txt.tmp behind")
endif()
fails("unknown CTR format" ctr train --train ctr/train.txt --format parquet --json)
# A file none of whose rows could be used (here: the wrong format) is refused with its first malformed line.
fails("no valid rows to build a vocabulary from (6000 malformed; the first: ctr/train.txt:1: expected 24 columns, got 40)" ctr train
      --train ctr/train.txt --format avazu --device cpu --json)
file(WRITE "${WORK}/ctr/three_columns.txt" "1\tx\ty\n0\tx\ty\n")
fails("no row of ctr/three_columns.txt could be used for validation (2 malformed; the first: ctr/three_columns.txt:1:"
      ctr train --model lr --train ctr/train.txt --valid ctr/three_columns.txt --device cpu --json)
file(WRITE "${WORK}/ctr/empty.txt" "")
fails("ctr/empty.txt has no rows to be used for validation" ctr train --model lr --train ctr/train.txt
      --valid ctr/empty.txt --device cpu --json)
fails("has no rows to be trained on" ctr train --resume fm.ckpt --train ctr/empty.txt --device cpu --json)
fails("has no rows to be trained on" ctr train --resume fm.ckpt --train ctr/empty.txt --stream --device cpu --json)
fails("no row of ctr/three_columns.txt could be trained on (2 malformed; the first: ctr/three_columns.txt:1:"
      ctr train --resume fm.ckpt --train ctr/three_columns.txt --stream --device cpu --json)
# With --json a failure is also one JSON object on stdout: {"error": {"code", "message", "where"}}.
execute_process(COMMAND "${RECKON}" ctr train --train ctr/train.txt --format parquet --json
                OUTPUT_VARIABLE failed_stdout ERROR_VARIABLE failed_stderr WORKING_DIRECTORY "${WORK}")
# Bad input is the user's to fix: stderr names it without a source location of ours.
if(NOT failed_stderr MATCHES "^reckon: \\[invalid argument\\] .*parquet" OR failed_stderr MATCHES "\\.cpp:[0-9]")
  message(FATAL_ERROR "a bad --format printed: ${failed_stderr}")
endif()
string(JSON failed_code ERROR_VARIABLE no_error GET "${failed_stdout}" error code)
string(JSON failed_message ERROR_VARIABLE no_error2 GET "${failed_stdout}" error message)
if(no_error OR no_error2 OR NOT failed_code STREQUAL "invalid argument" OR NOT failed_message MATCHES "parquet")
  message(FATAL_ERROR "a failing command with --json printed no error object: ${failed_stdout}")
endif()
# Where it failed is given relative to the source root, never as the builder's absolute path.
string(JSON failed_where ERROR_VARIABLE no_where GET "${failed_stdout}" error where)
if(no_where OR failed_where MATCHES "^/" OR NOT failed_where MATCHES "^[a-z]+/.*\\.(cpp|h):[0-9]+$")
  message(FATAL_ERROR "the error's where is not a source-relative file:line: ${failed_stdout}")
endif()

# item2vec: sessions -> vectors (text and binary) -> similar / recommend / eval; a checkpoint resumed.
file(WRITE "${WORK}/sessions.tsv" "SessionId\tItemId\tTime\n")
foreach(s RANGE 1 400)
  math(EXPR g "${s} % 4")
  foreach(i RANGE 0 5)
    math(EXPR item "${g} * 100 + (${s} * 7 + ${i} * 3) % 10")
    math(EXPR time "${s} * 3600 + ${i}")  # a session an hour
    file(APPEND "${WORK}/sessions.tsv" "${s}\t${item}\t${time}\n")
  endforeach()
endforeach()
run(i2v item2vec train --input sessions.tsv --format sessions-tsv --output v.txt --dim 16 --window 2 --min-count 1
    --sample 0 --epochs 3 --save m.i2v --device cpu --json)
expect("${i2v}" vocabulary EQUAL 40)
expect("${i2v}" raw_words_per_s GREATER 0)
# Resumed: the options named replace the checkpoint's settings (1 epoch here, the checkpoint's 3 otherwise);
# --dim must match and the vocabulary options are refused.
run(i2v_binary item2vec train --input sessions.tsv --format sessions-tsv --output v.bin --binary --dim 16
    --epochs 1 --resume m.i2v --device cpu --json)
string(JSON resumed_epochs LENGTH "${i2v_binary}" epoch_results)
if(NOT resumed_epochs EQUAL 1)
  message(FATAL_ERROR "--epochs 1 with --resume trained ${resumed_epochs} epochs: ${i2v_binary}")
endif()
fails("--dim 32 differs from the checkpoint's 16" item2vec train --input sessions.tsv --format sessions-tsv
      --output v2.txt --dim 32 --resume m.i2v --device cpu --json)
# A metric with nothing to compute it from is null, not 0.
file(WRITE "${WORK}/no_pairs.txt" "word1 word2 score\n")
run(no_pairs item2vec eval --vectors v.txt --similarity no_pairs.txt --device cpu --json)
string(JSON rho_type TYPE "${no_pairs}" spearman)
if(NOT rho_type STREQUAL "NULL")
  message(FATAL_ERROR "Spearman's rho over no pair was ${rho_type}: ${no_pairs}")
endif()
fails("--min-count cannot apply with --resume" item2vec train --input sessions.tsv --format sessions-tsv
      --output v2.txt --min-count 1 --resume m.i2v --device cpu --json)
run(similar item2vec similar --vectors v.bin --item 101,203 --k 3 --device cpu --json)
string(JSON n LENGTH "${similar}" results 0 similar)
if(NOT n EQUAL 3)
  message(FATAL_ERROR "similar returned ${n} items: ${similar}")
endif()
run(recommend item2vec recommend --vectors v.txt --context 101,102,nonexistent --k 5 --device cpu --json)
string(JSON unknown GET "${recommend}" unknown 0)
if(NOT unknown STREQUAL "nonexistent")
  message(FATAL_ERROR "recommend did not report the unknown context item: ${recommend}")
endif()
run(evaluated item2vec eval --vectors v.txt --sessions sessions.tsv --k 10 --device cpu --json)
expect("${evaluated}" queries GREATER 1000)
# Held out by time: the sessions of the last 2 days (48 of the 400 hourly sessions).
run(split item2vec split --input sessions.tsv --test-days 2 --out split --json)
expect("${split}" test_sessions EQUAL 48)
expect("${split}" train_sessions EQUAL 352)
run(held_out item2vec eval --vectors v.txt --sessions split/test.tsv --k 10 --device cpu --json)
expect("${held_out}" queries EQUAL 240)
fails("choose another number of days" item2vec split --input sessions.tsv --test-days 30 --out split --json)
file(WRITE "${WORK}/broken.txt" "2 3\na 1 2 3\nb 1 x 3\n")
fails("broken.txt:3" item2vec similar --vectors broken.txt --item a --json)
file(WRITE "${WORK}/empty.txt" "\n")
fails("no items" item2vec train --input empty.txt --json)
# The wrong format: every row malformed, and the message shows the first.
fails("no items in the corpus (diginetica format; 2400 malformed rows, the first: sessions.tsv:2: expected 5 columns, got 1)" item2vec train
      --input sessions.tsv --format diginetica --output w.txt --json)

# session prepare: 400 hourly sessions; the last 2 days (48 sessions) are test, the 2 days before validation.
run(prepared session prepare --input sessions.tsv --out prepared --min-item-support 1 --test-days 2
    --validation-days 2 --json)
expect("${prepared}" splits test sessions EQUAL 48)
expect("${prepared}" splits train_full sessions EQUAL 352)
expect("${prepared}" splits validation sessions EQUAL 48)
expect("${prepared}" splits train sessions EQUAL 304)
run(session_trained session train --model vsknn --train prepared/train_full.tsv --save vsknn.ckpt --json)
expect("${session_trained}" sessions EQUAL 352)
run(session_eval session eval --model pop,iknn,vsknn --train prepared/train_full.tsv --test prepared/test.tsv
    --k 5,20 --json)
expect("${session_eval}" results 2 metrics hr@20 GREATER 0.5)
expect("${session_eval}" results 0 metrics queries EQUAL 240)
run(session_saved session eval --model-file vsknn.ckpt --test prepared/test.tsv --last-click --json)
expect("${session_saved}" results 0 metrics queries EQUAL 48)
run(session_rec session recommend --model-file vsknn.ckpt --session 3,4 --k 5 --json)
expect("${session_rec}" recommended 4 score GREATER 0)
run(gru_trained session train --model gru4rec --train prepared/train_full.tsv --epochs 2 --hidden 16 --device cpu
    --save gru.ckpt --json)
expect("${gru_trained}" epochs 1 loss GREATER 0)
run(gru_eval session eval --model-file gru.ckpt --test prepared/test.tsv --device cpu --json)
expect("${gru_eval}" results 0 metrics queries EQUAL 240)
run(gru_ce session eval --model gru4rec --loss cross-entropy --train prepared/train_full.tsv --test prepared/test.tsv
    --epochs 1 --hidden 16 --device cpu --json)
expect("${gru_ce}" results 0 metrics queries EQUAL 240)
fails("--loss: hinge not in" session eval --model gru4rec --loss hinge --train prepared/train_full.tsv
      --test prepared/test.tsv)
run(cnn_trained session train --model cnn3d --train prepared/train_full.tsv --items prepared/items.tsv --epochs 1
    --hidden 16 --filters 8 --samples 64 --device cpu --save cnn.ckpt --json)
expect("${cnn_trained}" epochs 0 loss GREATER 0)
run(cnn_eval session eval --model-file cnn.ckpt --test prepared/test.tsv --device cpu --json)
expect("${cnn_eval}" results 0 metrics queries EQUAL 240)
run(cnn_rec session recommend --model-file cnn.ckpt --session 3,4 --k 5 --json)
expect("${cnn_rec}" model STREQUAL cnn3d)
fails("cannot open" session train --model cnn3d --train prepared/train_full.tsv --items missing.tsv --save x.ckpt)
run(shop session demo --write-only --out shop --train-sessions 300 --json)
expect("${shop}" files items STREQUAL shop/items.tsv)
run(shop_cnn session train --model cnn3d --train shop/train.tsv --valid shop/valid.tsv --items shop/items.tsv
    --new-items --epochs 3 --patience 1 --hidden 16 --filters 8 --samples 64 --device cpu --save shop.ckpt --json)
expect("${shop_cnn}" epochs 0 validation hr@20 GREATER 0)
run(shop_eval session eval --model-file shop.ckpt --test shop/test.tsv --device cpu --json)
expect("${shop_eval}" results 0 unseen_targets EQUAL 0)  # the items new in the test period joined the catalogue
expect("${shop_eval}" results 0 cold_targets queries GREATER 0)
run(shop_gru session train --model gru4rec --train shop/train.tsv --valid shop/valid.tsv --epochs 2 --hidden 16
    --device cpu --save shop_gru.ckpt --json)
expect("${shop_gru}" epochs 1 validation mrr@20 GREATER 0)
fails("test sessions begin before the training data ends" session train --model gru4rec --train shop/valid.tsv
      --valid shop/train.tsv --device cpu --save x.ckpt)
run(i2v_session session eval --model item2vec --vectors v.txt --test prepared/test.tsv --k 20 --json)
expect("${i2v_session}" results 0 metrics queries EQUAL 240)
fails("test sessions begin before the training data ends" session eval --model pop --train sessions.tsv
      --test prepared/test.tsv)
fails("give --model-file, or --model with --train" session eval --test prepared/test.tsv)
fails("--train-fraction must be a fraction" session prepare --input sessions.tsv --out p2 --train-fraction 2/1)
fails("sessions.tsv:2: expected 5 columns, got 1" session prepare --input sessions.tsv --format diginetica
      --bad-rows fail --out p3)
# The shop's carts give the 3D CNN its add-to-cart head: eval reports it beside the last click's rate.
run(shop_cart session eval --model cnn3d --train shop/train.tsv --items shop/items.tsv --test shop/test.tsv --epochs 1
    --hidden 16 --filters 8 --samples 64 --device cpu --json)
expect("${shop_cart}" results 0 add_to_cart auc GREATER 0)
expect("${shop_cart}" add_to_cart_baseline positives GREATER 0)
run(shop_cart_rec session recommend --model-file shop.ckpt --session 3,4 --k 5 --json)
expect("${shop_cart_rec}" cart_probability GREATER 0)

# content: synthetic songs as files, a broken file among them, train -> eval -> predict.
run(songs content synth --out songs --genres 3 --songs 5 --seconds 3 --json)
file(WRITE "${WORK}/songs/broken.wav" "RIFF not really")
file(APPEND "${WORK}/songs/clips.tsv" "broken.wav\tballad\ttrain\n")
run(content_trained content train --data songs/clips.tsv --save songs.ckpt --epochs 2 --filters 4 --hidden 16
    --device cpu --json)
expect("${content_trained}" train skipped_files EQUAL 1)
run(content_eval content eval --model songs.ckpt --data songs/clips.tsv --device cpu --confusion-png confusion.png --json)
expect("${content_eval}" clips EQUAL 3)
file(READ "${WORK}/confusion.png" png_magic LIMIT 8 HEX)
if(NOT png_magic STREQUAL "89504e470d0a1a0a")
  message(FATAL_ERROR "content eval --confusion-png wrote no PNG (first bytes: ${png_magic})")
endif()
fails("no_such_dir/c.png: cannot write the PNG" content eval --model songs.ckpt --data songs/clips.tsv --confusion-png no_such_dir/c.png)
run(content_predict content predict --model songs.ckpt --input songs --out songs.tsv --word2vec songs.vec --device cpu --json)
expect("${content_predict}" files skipped_files EQUAL 1)
file(STRINGS "${WORK}/songs.vec" song_vectors)
list(GET song_vectors 0 song_vectors_header)
if(NOT song_vectors_header MATCHES "^15 [0-9]+$")  # 3 genres x 5 songs, named by file name
  message(FATAL_ERROR "content predict --word2vec wrote '${song_vectors_header}' as its header")
endif()
fails("broken.wav" content train --data songs/clips.tsv --save x.ckpt --bad-files fail --epochs 1)
file(WRITE "${WORK}/bad_clips.tsv" "only-one-field\n")
fails("bad_clips.tsv:1: expected path" content train --data bad_clips.tsv --save x.ckpt)
# ensemble: a small shop, three components, the blend's table.
run(ensemble_demo ensemble demo --train-sessions 300 --epochs 1 --models pop,iknn,gru4rec --device cpu --json)
string(JSON ensemble_rows LENGTH "${ensemble_demo}" rows)
if(NOT ensemble_rows EQUAL 7)  # three alone, the blend, three knocked out
  message(FATAL_ERROR "ensemble demo: ${ensemble_rows} rows, expected 7")
endif()
fails("--models names no component" ensemble demo --train-sessions 300 --models "," --device cpu)
# item2vec's vectors are saved as a component of kind vectors, and served.
run(ensemble_saved ensemble demo --train-sessions 300 --models pop,item2vec --save ens --device cpu --json)
file(READ "${WORK}/ens/ensemble.json" ensemble_json)
string(JSON vectors_kind GET "${ensemble_json}" components 1 kind)
if(NOT vectors_kind STREQUAL "vectors" OR NOT EXISTS "${WORK}/ens/item2vec.vec")
  message(FATAL_ERROR "ensemble demo --save wrote item2vec as '${vectors_kind}'")
endif()
run(ensemble_served ensemble load --config ens/ensemble.json --test ens/test.tsv --clients 1 --requests 50 --json)
expect("${ensemble_served}" rounds 0 failed EQUAL 0)
message(STATUS "reckon CLI: every command printed one JSON object")

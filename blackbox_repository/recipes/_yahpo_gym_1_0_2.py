"""The 14 scenarios of yahpo-gym 1.0.2, described for simtune, and their published files.

yahpo-gym defines its scenarios in Python code (``benchmarks/*.py``), not in files of
yahpo_data; they are written out here (a test checks them against
``yahpo_gym_1.0.2_scenario_meta.json`` of the shared data). simtune adds the fidelity grid
and the fixed value of rbv2's second fidelity ``repl``. Instances of the four scenarios
whose models are in the shared data are listed (``LISTED_INSTANCES``), so that their names
are known before any download; the others are checked against their config space when
converted.
"""

from __future__ import annotations

from blackbox_repository.yahpo_scenario import YahpoScenario


def _ids(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# rbv2 data were collected at these training-set fractions (iaml at the next ones), as
# documented with Syne Tune's YAHPO wrapper; the model is queried there only
RBV2_TRAINSIZES = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
IAML_TRAINSIZES = (0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0)
RBV2_REPL = 10  # the largest replication index: every rbv2 blackbox answers for repl=10

_RBV2_OUTPUTS = _ids("acc bac auc brier f1 logloss timetrain timepredict memory")
# yahpo-gym 1.0.2 marks rbv2's f1 as minimized; F1 is a score (higher is better, as in its
# iaml scenarios) and later yahpo-gym versions mark it maximized: simtune maximizes it
RBV2_MINIMIZE_AS_PUBLISHED = (False, False, False, True, True, True, True, True, True)
_RBV2_MINIMIZE = (False, False, False, True, False, True, True, True, True)
_IAML_OUTPUTS = _ids(
    "mmce f1 auc logloss ramtrain rammodel rampredict timetrain timepredict mec ias nf"
)
_IAML_MINIMIZE = (True, False, False, True, True, True, True, True, True, True, True, True)
_XGBOOST = _ids(
    "nrounds eta gamma lambda alpha subsample max_depth min_child_weight colsample_bytree "
    "colsample_bylevel rate_drop skip_drop"
)
_RANGER = _ids("num.trees sample.fraction mtry.power min.node.size num.random.splits")
_IAML_RANGER = _ids("num.trees sample.fraction mtry.ratio min.node.size num.random.splits")
_RPART = _ids("cp maxdepth minbucket minsplit")
_NB301_CELLS = tuple(
    f"NetworkSelectorDatasetInfo_COLON_darts_COLON_{kind}_{cell}_{k}"
    for kind, cell, ks in (
        ("edge", "normal", range(14)),
        ("edge", "reduce", range(14)),
        ("inputs_node", "normal", range(3, 6)),
        ("inputs_node", "reduce", range(3, 6)),
    )
    for k in ks
)


def _rbv2(name: str, cont: tuple[str, ...], cat: tuple[str, ...]) -> YahpoScenario:
    return YahpoScenario(
        name=name,
        output_names=_RBV2_OUTPUTS,
        minimize=_RBV2_MINIMIZE,
        cont_names=(*cont, "trainsize", "repl"),
        cat_names=("task_id", *cat, "num.impute.selected.cpo"),
        fidelity_params=("trainsize", "repl"),
        runtime_name="timetrain",
        instance_parameter="task_id",
        fidelity_values=RBV2_TRAINSIZES,
        fixed_inputs=(("repl", RBV2_REPL),),
    )


def _iaml(name: str, cont: tuple[str, ...], cat: tuple[str, ...]) -> YahpoScenario:
    return YahpoScenario(
        name=name,
        output_names=_IAML_OUTPUTS,
        minimize=_IAML_MINIMIZE,
        cont_names=(*cont, "trainsize"),
        cat_names=("task_id", *cat),
        fidelity_params=("trainsize",),
        runtime_name="timetrain",
        instance_parameter="task_id",
        fidelity_values=IAML_TRAINSIZES,
    )


def _prefixed(prefix: str, names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{prefix}.{n}" for n in names)


SCENARIOS: dict[str, YahpoScenario] = {
    scenario.name: scenario
    for scenario in (
        YahpoScenario(
            name="lcbench",
            output_names=_ids(
                "time val_accuracy val_cross_entropy val_balanced_accuracy test_cross_entropy "
                "test_balanced_accuracy"
            ),
            minimize=(True, False, True, False, True, False),
            cont_names=_ids(
                "epoch batch_size learning_rate momentum weight_decay num_layers max_units "
                "max_dropout"
            ),
            cat_names=("OpenML_task_id",),
            fidelity_params=("epoch",),
            runtime_name="time",
            instance_parameter="OpenML_task_id",
        ),
        YahpoScenario(
            name="nb301",
            output_names=("val_accuracy", "runtime"),
            minimize=(False, True),
            cont_names=("epoch",),
            cat_names=_NB301_CELLS,
            fidelity_params=("epoch",),
            runtime_name="runtime",
            instances=("CIFAR10",),
            drop_predict=("dataset",),
        ),
        _rbv2("rbv2_svm", _ids("cost gamma tolerance degree"), ("kernel",)),
        _rbv2("rbv2_ranger", _RANGER, ("respect.unordered.factors", "splitrule")),
        _rbv2("rbv2_rpart", _RPART, ()),
        _rbv2("rbv2_glmnet", ("alpha", "s"), ()),
        _rbv2("rbv2_xgboost", _XGBOOST, ("booster",)),
        _rbv2("rbv2_aknn", _ids("k M ef ef_construction"), ("distance",)),
        _rbv2(
            "rbv2_super",
            (
                *_prefixed("svm", _ids("cost gamma tolerance degree")),
                *_prefixed("glmnet", ("alpha", "s")),
                *_prefixed("rpart", _RPART),
                *_prefixed("ranger", _RANGER),
                *_prefixed("aknn", _ids("k M ef ef_construction")),
                *_prefixed("xgboost", _XGBOOST),
            ),
            (
                "learner_id",
                "svm.kernel",
                "ranger.respect.unordered.factors",
                "ranger.splitrule",
                "aknn.distance",
                "xgboost.booster",
            ),
        ),
        _iaml("iaml_ranger", _IAML_RANGER, ("replace", "respect.unordered.factors", "splitrule")),
        _iaml("iaml_rpart", _RPART, ()),
        _iaml("iaml_glmnet", ("alpha", "s"), ()),
        _iaml("iaml_xgboost", _XGBOOST, ("booster",)),
        _iaml(
            "iaml_super",
            (
                *_prefixed("ranger", _IAML_RANGER),
                *_prefixed("rpart", _RPART),
                *_prefixed("glmnet", ("alpha", "s")),
                *_prefixed("xgboost", _XGBOOST),
            ),
            (
                "learner",
                *_prefixed("ranger", ("replace", "respect.unordered.factors", "splitrule")),
                "xgboost.booster",
            ),
        ),
    )
}

_RBV2_INSTANCES = _ids(
    "3 6 11 12 14 15 16 18 22 23 24 28 29 31 32 37 38 42 44 46 50 54 60 151 181 182 188 300 307 "
    "312 334 375 377 458 469 470 554 1040 1049 1050 1053 1056 1063 1067 1068 1111 1220 1457 1461 "
    "1462 1464 1468 1475 1476 1478 1479 1480 1485 1486 1487 1489 1493 1494 1497 1501 1510 1515 "
    "1590 4134 4135 4154 4534 4538 4541 6332 23381 23512 23517 40496 40498 40499 40536 40668 "
    "40670 40685 40701 40900 40923 40927 40966 40975 40978 40979 40981 40982 40983 40984 40994 "
    "40996 41027 41138 41142 41143 41146 41150 41156 41157 41159 41161 41162 41163 41164 41165 "
    "41166 41168 41169 41212"
)
LISTED_INSTANCES: dict[str, tuple[str, ...]] = {
    "lcbench": _ids(
        "3945 7593 34539 126025 126026 126029 146212 167104 167149 167152 167161 167168 "
        "167181 167184 167185 167190 167200 167201 168329 168330 168331 168335 168868 "
        "168908 168910 189354 189862 189865 189866 189873 189905 189906 189908 189909"
    ),
    "rbv2_rpart": _RBV2_INSTANCES,
    "rbv2_xgboost": (*_RBV2_INSTANCES, "41216", "41278"),
    "iaml_glmnet": ("1067", "1489", "40981", "41146"),
}

# sha256 of the published files at yahpo_data v1.0.2 (from the shared data's MANIFEST);
# None: the model is not in the shared data, its checksum is recorded at first use
PUBLISHED_SHA256: dict[str, dict[str, str | None]] = {
    "lcbench": {
        "model.onnx": "b45c0d85ae39abf8820c8bea5ac82f415763afcbaf3b725e36af452b09cb6dcd",
        "config_space.json": "4d1c78a91429b4a37628e13f286cf1abe15f778a09722a4c01714f2d72a8200d",
        "encoding.json": "d8af928f412bbeb07e58ecd69877fcab35fbc595333d1c1c3f76120d2f2508da",
    },
    "rbv2_rpart": {
        "model.onnx": "af34bb810107fd809bdd74be227685fb2a1c5cb7b1f3c2dde5629e42ef6819f3",
        "config_space.json": "86de5b9c8f9bc2f82eaafa099b9920445ce6edbe56509c9736af71d53ef4a630",
        "encoding.json": "e978cd3de5b8fbad4f7dbb7a15bed94738d37c24a0bfb3cbdf33509ba91df49c",
    },
    "rbv2_xgboost": {
        "model.onnx": "85125b6d97f553d10cd50f9e632e1a3f1ad44bcb00300dd2880d70dfd043d9f3",
        "config_space.json": "acf4485d314d86801f61b615d64ffea7859c414c363da9e7f943621468ebbda4",
        "encoding.json": "0bd3cf9a4c9459a3148adf740f20b347fd11a6714f89348f41467a8f1206172a",
    },
    "iaml_glmnet": {
        "model.onnx": "5c9b1541e37604993098ba23b04695bfe38d009108e9de0a26c3f161265b5a7a",
        "config_space.json": "0ad5fb8f4205f54be13ded2af5f9b34f840914dc0457f1ed6be215b7885fb0f9",
        "encoding.json": "e04ffd8c9bfdcb2e8b9c08c38d828e40d7be3ef90c8895f3e7e84b8b4348c3d1",
    },
    **{
        name: {"model.onnx": None, "config_space.json": space, "encoding.json": encoding}
        for name, space, encoding in (
            (
                "iaml_ranger",
                "b41e57d4cd483116fba672d27ca3d4c0edc38f1f3d70b403e6c6e6ceb8daff60",
                "8e68ed0a1b31187c128c4dd003d568c667b727a35ebbe29bfd62904fff26d720",
            ),
            (
                "iaml_rpart",
                "0f37ac0b9ffedb2986e4a7cf47ba39f1b3611e840e7cade155b0c702983d848e",
                "e04ffd8c9bfdcb2e8b9c08c38d828e40d7be3ef90c8895f3e7e84b8b4348c3d1",
            ),
            (
                "iaml_super",
                "7aefda810fa8cc2d14655e8d508317a71533f02d0bcf075c0147db44545f7da2",
                "e21ef3b90b0480de57acff7320d413874d14cc5a9ed16889b1a01159f704fee4",
            ),
            (
                "iaml_xgboost",
                "edefef57ee3ffcab72525499efcac75eb9968f7d8ef817e5350011bdeadf23f5",
                "bcf75e32740a4b0dab649aa19041a28404de8584d06c5424547c9b22b9290942",
            ),
            (
                "nb301",
                "3135c6f8347f491fd31e8fa7a5e9607ea926c9a8558a6a21a1419d55a01884f2",
                "b16bb8db9aa5a9b688cd97e782643abe96bd166baa445675f57cbcf5e6128a98",
            ),
            (
                "rbv2_aknn",
                "2074136071a5e4e64dbe38754a4ce8870159c213d507ba80bc76197a11e3f21e",
                "d946a17d30fcb9e0e4dc888830472f945a26ecb6e24a23c569b152e806147d1c",
            ),
            (
                "rbv2_glmnet",
                "6f2a9d7cddac5e7bac17b12870abdc35bc4ebbb245b1a3ce97d2d5fb475ace0b",
                "2c060aa8eb6ccc572eadc405bedd8882edec08d4bd35c8f097e103cc5fe5b325",
            ),
            (
                "rbv2_ranger",
                "ce36c2f5dd3f01f8ae4b5e58eba1c54c3fafe274d31f17798c87bad780c61521",
                "9f0e5947f6a30ea6daa6e194eed3026117db7d216e4a3df2d36653792ac5f489",
            ),
            (
                "rbv2_super",
                "4955b6daba49cad9c12f1c90648c229c4a6e0052d0fe24c9f9aa493a45122d9d",
                "b52f5a0d9d0d2bc743dcf3f4d72e9379dbde7d3147a0f7b08d0864886daa3482",
            ),
            (
                "rbv2_svm",
                "78bc0a1e0ca1ff3c733747b0fee6861d25bb2ecd640e8b62c5d82f4cbedbecd5",
                "3e298ce5695c7a55caedfa1f5058b25404a73056a56221419b70816dce100ae7",
            ),
        )
    },
}

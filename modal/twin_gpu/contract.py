"""The train request of DESIGN §8 and the hyperparameters it may carry."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

SUPPORTED_QUANTIZATIONS = ("q8_0", "q4_k_m")


class Hyperparameters(BaseModel):
    """Defaults are Second-Me's (REFERENCE.md). camelCase on the wire; snake_case is accepted too."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    lora_r: int = Field(8, alias="loraR", ge=1, le=256)
    lora_alpha: float = Field(16, alias="loraAlpha", gt=0)
    lora_dropout: float = Field(0.1, alias="loraDropout", ge=0, lt=1)
    target_modules: str | list[str] = Field("all-linear", alias="targetModules")
    max_seq_length: int = Field(2048, alias="maxSeqLength", ge=16)
    batch_size: int = Field(2, alias="batchSize", ge=1)
    gradient_accumulation_steps: int = Field(1, alias="gradientAccumulationSteps", ge=1)
    learning_rate: float = Field(1e-4, alias="learningRate", gt=0)
    lr_scheduler: str = Field("cosine", alias="lrScheduler")
    warmup_ratio: float = Field(0.0, alias="warmupRatio", ge=0, lt=1)
    epochs: float = Field(3, alias="epochs", gt=0)
    max_steps: int | None = Field(None, alias="maxSteps", ge=1)
    weight_decay: float = Field(1e-4, alias="weightDecay", ge=0)
    max_grad_norm: float = Field(0.3, alias="maxGradNorm", gt=0)
    gradient_checkpointing: bool | None = Field(None, alias="gradientCheckpointing")
    seed: int = 42
    progress_every: int = Field(5, alias="progressEvery", ge=1)

    @field_validator("lr_scheduler")
    @classmethod
    def _known_scheduler(cls, v: str) -> str:
        if v not in {"cosine", "linear", "constant"}:
            raise ValueError("lrScheduler must be cosine, linear or constant")
        return v


_ALIASES = {"r": "loraR", "lora_rank": "loraR", "loraRank": "loraR", "num_train_epochs": "epochs",
            "numTrainEpochs": "epochs", "per_device_train_batch_size": "batchSize", "lr": "learningRate",
            "max_length": "maxSeqLength", "maxLength": "maxSeqLength"}


def parse_hyperparameters(raw: dict[str, Any] | None) -> Hyperparameters:
    data = {_ALIASES.get(k, k): v for k, v in (raw or {}).items() if v is not None}
    return Hyperparameters.model_validate(data)


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    runId: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")
    # No "@": it separates the user from the run in a candidate's model name, twin:{userId}@{runId}.
    userId: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")
    attempt: int = Field(1, ge=1)
    baseModel: str | None = None
    datasetPath: str = Field(min_length=1)
    outputPrefix: str = Field(min_length=1)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    quantizations: list[str] = Field(default_factory=lambda: list(SUPPORTED_QUANTIZATIONS))
    callbackUrl: str | None = None

    @field_validator("quantizations")
    @classmethod
    def _known_quants(cls, v: list[str]) -> list[str]:
        norm = [q.lower() for q in v]
        unknown = sorted(set(norm) - set(SUPPORTED_QUANTIZATIONS) - {"f16"})
        if unknown:
            raise ValueError(f"unsupported quantizations {unknown}; supported: {list(SUPPORTED_QUANTIZATIONS)}")
        return [q for q in dict.fromkeys(norm) if q != "f16"]  # f16 is always produced

    @field_validator("outputPrefix")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")

"""CRD's memory bank: initialisation, the negative sampler of each mode, Z set once, the
momentum update, the two scoring paths, state round trip, and the bank kept equal across
processes under torch.distributed."""

import math

import pytest
import torch
import torch.nn.functional as F

from sskd.methods.crd_memory import CRDMemory, memory_dots, normalize_rows, score_path

N, C, K = 40, 4, 8


def class_labels(counts=(10, 10, 10, 10), seed=0):
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    return labels[torch.randperm(labels.numel(), generator=torch.Generator().manual_seed(seed))]


def unit(b, d=128, seed=0):
    return F.normalize(torch.randn(b, d, generator=torch.Generator().manual_seed(seed)), dim=1)


def test_buffers_and_initialisation():
    torch.manual_seed(0)
    memory = CRDMemory(class_labels(), nce_k=K)
    sigma = 1 / math.sqrt(128 / 3)
    assert set(memory.state_dict()) == {"memory_student", "memory_teacher", "z_student", "z_teacher"}
    assert not list(memory.parameters())
    for bank in (memory.memory_student, memory.memory_teacher):
        assert bank.shape == (N, 128) and bank.abs().max() <= sigma
        assert bank.pow(2).sum(1).mean().item() == pytest.approx(1.0, abs=0.1)  # roughly unit rows
    assert memory.z_student.item() == memory.z_teacher.item() == -1


def test_exact_negatives_are_k_distinct_images_of_other_classes():
    torch.manual_seed(0)
    labels = class_labels()
    memory = CRDMemory(labels, nce_k=K)
    y = torch.arange(N).repeat(50)
    idx = memory.sample(y)
    assert idx.shape == (y.numel(), K + 1) and idx.dtype == torch.int64
    assert torch.equal(idx[:, 0], y)
    neg = idx[:, 1:]
    assert (labels[neg] != labels[y].unsqueeze(1)).all()
    assert (neg != y.unsqueeze(1)).all()
    assert (neg.sort(1).values.diff(dim=1) != 0).all()  # K distinct per row
    # every image of the other classes gets drawn for some anchor of class 0
    rows = labels[y] == 0
    assert set(neg[rows].unique().tolist()) == set(torch.nonzero(labels != 0).flatten().tolist())


def test_small_pools_draw_with_replacement_others_without():
    torch.manual_seed(0)
    labels = class_labels((30, 5, 5))
    memory = CRDMemory(labels, nce_k=20)  # class 0's pool holds 10 < 20 images, the others 35
    y = torch.arange(N).repeat(10)
    neg = memory.sample(y)[:, 1:]
    assert (labels[neg] != labels[y].unsqueeze(1)).all()
    distinct = (neg.sort(1).values.diff(dim=1) != 0).all(1)
    assert distinct[labels[y] != 0].all()
    assert not distinct[labels[y] == 0].any()  # 20 draws from 10 images repeat


def test_relax_positive_is_a_random_image_of_the_same_class():
    torch.manual_seed(0)
    labels = class_labels()
    memory = CRDMemory(labels, nce_k=K, mode="relax")
    y = torch.arange(N).repeat(20)
    idx = memory.sample(y)
    assert torch.equal(labels[idx[:, 0]], labels[y])
    assert (idx[:, 0] != y).any()
    assert (labels[idx[:, 1:]] != labels[y].unsqueeze(1)).all()


def test_uniform_negatives_ignore_the_classes():
    torch.manual_seed(0)
    labels = class_labels()
    memory = CRDMemory(labels, nce_k=K, mode="uniform")
    y = torch.arange(N).repeat(20)
    idx = memory.sample(y)
    assert torch.equal(idx[:, 0], y)
    assert idx.min() >= 0 and idx.max() < N
    assert (labels[idx[:, 1:]] == labels[y].unsqueeze(1)).any()


def test_modes_that_need_other_classes_refuse_a_single_class():
    with pytest.raises(ValueError, match="same label"):
        CRDMemory(torch.zeros(10, dtype=torch.int64), nce_k=4)
    CRDMemory(torch.zeros(10, dtype=torch.int64), nce_k=4, mode="uniform")
    with pytest.raises(ValueError, match="mode"):
        CRDMemory(class_labels(), mode="soft")


def test_z_is_set_from_the_first_batch_then_frozen():
    torch.manual_seed(0)
    memory = CRDMemory(class_labels(), nce_k=K)
    s, t = memory(unit(6, seed=1), unit(6, seed=2), torch.arange(6))
    # the first batch's scores are exp(·/τ)/Z with Z = mean(exp(·/τ))·N: mean·N = 1
    assert (s.mean() * N).item() == pytest.approx(1.0, rel=1e-5)
    assert (t.mean() * N).item() == pytest.approx(1.0, rel=1e-5)
    z = memory.z_student.clone(), memory.z_teacher.clone()
    assert z[0] > 0 and z[1] > 0 and z[0] != z[1]
    s2, _ = memory(unit(6, seed=3), unit(6, seed=4), torch.arange(6, 12))
    assert memory.z_student == z[0] and memory.z_teacher == z[1]
    assert (s2.mean() * N).item() != pytest.approx(1.0, rel=1e-3)


def test_update_moves_the_batch_rows_only_and_keeps_them_unit_norm():
    torch.manual_seed(0)
    memory = CRDMemory(class_labels(), nce_k=K)
    before_s, before_t = memory.memory_student.clone(), memory.memory_teacher.clone()
    y = torch.tensor([3, 17, 25])
    v_s, v_t = unit(3, seed=1), unit(3, seed=2)
    memory(v_s, v_t, y)
    for bank, before, v in ((memory.memory_student, before_s, v_s), (memory.memory_teacher, before_t, v_t)):
        mixed = 0.5 * before[y] + 0.5 * v
        assert torch.allclose(bank[y], mixed / mixed.norm(dim=1, keepdim=True), atol=1e-6)
        assert torch.allclose(bank[y].norm(dim=1), torch.ones(3), atol=1e-6)
        others = torch.ones(N, dtype=torch.bool)
        others[y] = False
        assert torch.equal(bank[others], before[others])


def test_eval_mode_scores_without_updating():
    torch.manual_seed(0)
    memory = CRDMemory(class_labels(), nce_k=K).eval()
    before = memory.memory_student.clone()
    memory(unit(4), unit(4, seed=1), torch.arange(4))
    assert torch.equal(memory.memory_student, before)


def test_both_scoring_paths_give_the_same_scores_and_gradients():
    torch.manual_seed(0)
    bank = normalize_rows(torch.randn(N, 16))
    idx = torch.randint(0, N, (5, 7))
    grads = {}
    for path in ("matmul", "gather"):
        v = unit(5, 16).requires_grad_()
        dots = memory_dots(v, bank, idx, path)
        (dots.exp() * torch.arange(7.0)).sum().backward()
        grads[path] = (dots.detach(), v.grad)
    assert torch.allclose(grads["matmul"][0], grads["gather"][0], atol=1e-6)
    assert torch.allclose(grads["matmul"][1], grads["gather"][1], atol=1e-5)
    expected = torch.stack([bank[idx[b]] @ unit(5, 16)[b] for b in range(5)])
    assert torch.allclose(grads["gather"][0], expected, atol=1e-6)


def test_both_paths_agree_through_the_bank_with_its_update():
    results = {}
    for path in ("matmul", "gather"):
        torch.manual_seed(0)
        memory = CRDMemory(class_labels(), nce_k=K)
        v_s, v_t = unit(6, seed=1).requires_grad_(), unit(6, seed=2).requires_grad_()
        torch.manual_seed(1)
        s, t = memory(v_s, v_t, torch.arange(6), path=path)
        (s.log().sum() + t.sum()).backward()  # after the in-place momentum update
        results[path] = (s.detach(), t.detach(), v_s.grad, v_t.grad, memory.memory_student.clone())
    for a, b in zip(results["matmul"], results["gather"]):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_score_path_reads_the_whole_bank_when_it_is_the_smaller_read():
    assert score_path(50_000, 16_385, 128) == "matmul"
    assert score_path(1_281_167, 16_385, 128) == "matmul"
    assert score_path(10_000_000, 16_385, 128) == "gather"
    assert score_path(40, 1, 16) == "gather"


def test_state_dict_round_trip_keeps_memory_and_z():
    torch.manual_seed(0)
    memory = CRDMemory(class_labels(), nce_k=K)
    memory(unit(6), unit(6, seed=1), torch.arange(6))
    torch.manual_seed(5)
    other = CRDMemory(class_labels(), nce_k=K)
    other.load_state_dict(memory.state_dict())
    for key, value in memory.state_dict().items():
        assert torch.equal(other.state_dict()[key], value), key
    other(unit(6, seed=2), unit(6, seed=3), torch.arange(6, 12))
    assert other.z_student == memory.z_student and other.z_teacher == memory.z_teacher


def _distributed_worker(rank, world, init_file, out):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        torch.manual_seed(0)  # same initial bank everywhere
        memory = CRDMemory(class_labels(), nce_k=K)
        torch.manual_seed(100 + rank)  # each rank its own negatives
        y = torch.tensor([[0, 1, 2], [2, 5, 6]])[rank]  # index 2 on both ranks, as padding repeats
        memory(unit(3, seed=rank), unit(3, seed=10 + rank), y)
        torch.save(memory.state_dict(), f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


def test_distributed_ranks_keep_the_same_bank(tmp_path):
    import torch.multiprocessing as mp

    out = tmp_path / "state"
    mp.spawn(_distributed_worker, args=(2, str(tmp_path / "init"), str(out)), nprocs=2)
    states = [torch.load(f"{out}.{r}") for r in range(2)]
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key
    torch.manual_seed(0)
    bank = CRDMemory(class_labels(), nce_k=K).memory_student
    # rank 0's batch, then rank 1's: row 2 gets both updates, in rank order
    for rank, y in ((0, [0, 1, 2]), (1, [2, 5, 6])):
        mixed = 0.5 * bank[y] + 0.5 * unit(3, seed=rank)
        bank[y] = mixed / mixed.norm(dim=1, keepdim=True)
    assert torch.allclose(states[0]["memory_student"], bank, atol=1e-6)

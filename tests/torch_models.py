"""Small hand-written torch models for tests/test_torch_import.py (imported as ``torch_models:<factory>()``).

Each factory builds one architecture family at a small width, so a forward
pass in float64 takes milliseconds. Modules that produce a squeeze-and-
excitation style gate are named ``gate`` (the gradient probe in the test
detaches them: rfdesign counts a broadcast gate as global context, not as
part of the receptive field).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# --------------------------------------------------------------------------------------------------
# ResNet: basic blocks with projection shortcuts
# --------------------------------------------------------------------------------------------------


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, widths: tuple[int, ...] = (8, 16, 32), classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers = []
        cin = widths[0]
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            layers.append(nn.Sequential(BasicBlock(cin, w, stride), BasicBlock(w, w)))
            cin = w
        self.layer1, self.layer2, self.layer3 = layers
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def resnet(weights: object = None) -> nn.Module:
    """A three-stage ResNet (torchvision's conventions); accepts ``weights`` like torchvision factories."""
    assert weights is None
    return ResNet()


# --------------------------------------------------------------------------------------------------
# Inception: concat of 1x1 / 3x3 / 5x5 / pool branches
# --------------------------------------------------------------------------------------------------


class ConvBN(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int | tuple[int, int], stride: int = 1, padding: object = 0):
        super().__init__(nn.Conv2d(cin, cout, kernel, stride, padding, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class InceptionModule(nn.Module):
    def __init__(self, cin: int, c1: int, c3: int, c5: int, cp: int):
        super().__init__()
        self.branch1x1 = ConvBN(cin, c1, 1)
        self.branch3x3 = nn.Sequential(ConvBN(cin, c3, 1), ConvBN(c3, c3, 3, padding=1))
        self.branch5x5 = nn.Sequential(ConvBN(cin, c5, 1), ConvBN(c5, c5, 5, padding=2))
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, 1, 1), ConvBN(cin, cp, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch1x1(x), self.branch3x3(x), self.branch5x5(x), self.branch_pool(x)]
        return torch.cat(branches, 1)


class Inception(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = ConvBN(3, 16, 3, 2)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.mixed_a = InceptionModule(16, 8, 8, 4, 4)
        self.mixed_b = InceptionModule(24, 8, 12, 4, 8)
        self.reduce = nn.AvgPool2d(3, 2, padding=1, ceil_mode=True)
        self.mixed_c = InceptionModule(32, 16, 16, 8, 8)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(48, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.stem(x))
        x = self.reduce(self.mixed_b(self.mixed_a(x)))
        return self.head(self.mixed_c(x))


def inception(pretrained: bool = False) -> nn.Module:
    """An Inception-style net; takes ``pretrained`` like old torchvision factories."""
    assert not pretrained
    return Inception()


# --------------------------------------------------------------------------------------------------
# U-Net: valid convs, transposed convs, centre-cropped skips
# --------------------------------------------------------------------------------------------------


def double_conv(cin: int, cout: int) -> nn.Sequential:
    relu = nn.ReLU(inplace=True)
    return nn.Sequential(nn.Conv2d(cin, cout, 3), relu, nn.Conv2d(cout, cout, 3), nn.ReLU(inplace=True))


def centre_crop(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    dh = x.shape[2] - like.shape[2]
    dw = x.shape[3] - like.shape[3]
    return x[:, :, dh // 2 : dh // 2 + like.shape[2], dw // 2 : dw // 2 + like.shape[3]]


class UNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.down1 = double_conv(1, 8)
        self.down2 = double_conv(8, 16)
        self.bottom = double_conv(16, 32)
        self.pool = nn.MaxPool2d(2)
        self.up2 = nn.ConvTranspose2d(32, 16, 2, 2)
        self.conv2 = double_conv(32, 16)
        self.up1 = nn.ConvTranspose2d(16, 8, 3, 2, padding=1, output_padding=1)
        self.conv1 = double_conv(16, 8)
        self.classifier = nn.Conv2d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d1 = self.down1(x)
        d2 = self.down2(self.pool(d1))
        b = self.bottom(self.pool(d2))
        u2 = self.up2(b)
        u2 = self.conv2(torch.cat([centre_crop(d2, u2), u2], dim=1))
        u1 = self.up1(u2)
        u1 = self.conv1(torch.cat([centre_crop(d1, u1), u1], dim=1))
        return self.classifier(u1)


def unet() -> nn.Module:
    return UNet()


# --------------------------------------------------------------------------------------------------
# TCN: dilated causal 1-D convolutions with residuals
# --------------------------------------------------------------------------------------------------


class TemporalBlock(nn.Module):
    def __init__(self, cin: int, cout: int, dilation: int, chomp: bool):
        super().__init__()
        self.pad = (3 - 1) * dilation
        self.chomp = chomp
        self.conv1 = nn.Conv1d(cin, cout, 3, dilation=dilation, padding=self.pad if chomp else 0)
        self.relu1 = nn.ReLU()
        self.drop = nn.Dropout(0.1)
        self.conv2 = nn.Conv1d(cout, cout, 3, dilation=dilation, padding=self.pad if chomp else 0)
        self.relu2 = nn.ReLU()
        self.downsample = nn.Conv1d(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.chomp:  # pad both sides, then drop the look-ahead (Bai et al.'s Chomp1d)
            out = self.relu1(self.conv1(x)[:, :, : -self.pad])
            out = self.drop(out)
            out = self.relu2(self.conv2(out)[:, :, : -self.pad])
        else:  # causal left padding
            out = self.relu1(self.conv1(F.pad(x, (self.pad, 0))))
            out = self.drop(out)
            out = self.relu2(self.conv2(F.pad(out, (self.pad, 0))))
        res = x if self.downsample is None else self.downsample(x)
        return out + res


class TCN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        blocks = []
        cin = 2
        for i, d in enumerate((1, 2, 4, 8)):
            blocks.append(TemporalBlock(cin, 8, d, chomp=i % 2 == 1))
            cin = 8
        self.network = nn.Sequential(*blocks)
        self.head = nn.Conv1d(8, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.network(x))


def tcn() -> nn.Module:
    return TCN()


# --------------------------------------------------------------------------------------------------
# MobileNet: depthwise-separable blocks with squeeze-and-excitation gates
# --------------------------------------------------------------------------------------------------


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduced: int, style: str):
        super().__init__()
        self.style = style
        if style == "conv":
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc1 = nn.Conv2d(channels, reduced, 1)
            self.fc2 = nn.Conv2d(reduced, channels, 1)
        else:
            self.fc1 = nn.Linear(channels, reduced)
            self.fc2 = nn.Linear(reduced, channels)
        self.relu = nn.ReLU(inplace=True)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.style == "conv":
            s = self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))
            return x * s
        b, c = x.shape[:2]
        s = x.mean((2, 3))  # global average pool written as a mean
        s = self.gate(self.fc2(self.relu(self.fc1(s))))
        return x * s.view(b, c, 1, 1).expand_as(x)


class SeparableBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int, se: str | None):
        super().__init__()
        mid = cin * expand
        self.expand = nn.Sequential(nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU6(inplace=True))
        self.depthwise = nn.Sequential(
            nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False), nn.BatchNorm2d(mid), nn.ReLU6(inplace=True)
        )
        self.se = SqueezeExcite(mid, max(mid // 4, 4), se) if se else nn.Identity()
        self.project = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.se(self.depthwise(self.expand(x))))
        return x + out if self.residual else out


class MobileNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.Hardswish())
        self.blocks = nn.Sequential(
            SeparableBlock(8, 8, 1, 1, "conv"),
            SeparableBlock(8, 12, 2, 3, None),
            SeparableBlock(12, 12, 1, 3, "linear"),
            SeparableBlock(12, 16, 2, 3, "conv"),
        )
        self.last = nn.Sequential(nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32), nn.Hardswish())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(32, 24), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(24, 7))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.last(self.blocks(self.stem(x))))
        return self.classifier(x.flatten(1))


def mobilenet() -> nn.Module:
    return MobileNet()


# --------------------------------------------------------------------------------------------------
# 3-D: a small video ResNet
# --------------------------------------------------------------------------------------------------


class Block3d(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv3d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(cout)
        self.conv2 = nn.Conv3d(cout, cout, (1, 3, 3), 1, (0, 1, 1), bias=False)
        self.bn2 = nn.BatchNorm3d(cout)
        self.shortcut = nn.Conv3d(cin, cout, 1, stride, bias=False)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + self.shortcut(x))


class Video(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv3d(3, 8, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False), nn.BatchNorm3d(8), nn.ReLU(inplace=True)
        )
        self.pool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.layer1 = Block3d(8, 16, 2)
        self.layer2 = Block3d(16, 16, 1)
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer2(self.layer1(self.pool(self.stem(x))))
        return self.fc(self.avgpool(x).flatten(1))


def video3d() -> nn.Module:
    return Video()


# --------------------------------------------------------------------------------------------------
# data-dependent control flow: torch.fx cannot trace it
# --------------------------------------------------------------------------------------------------


class Dynamic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.relu = nn.ReLU()
        self.branch_a = nn.Conv2d(8, 8, 3, padding=2, dilation=2)
        self.branch_b = nn.Conv2d(8, 8, 5, padding=2)
        self.down = nn.Conv2d(16, 16, 3, stride=2, padding=1)
        self.refine = nn.Conv2d(16, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.conv1(x))
        if x.std() > 0:  # data-dependent: fx cannot trace this, the hook fallback follows the branch taken
            y = self.branch_a(x) + x  # functional add between modules
        else:
            y = self.branch_b(x)
        z = torch.cat([y, x], dim=1)
        z = self.down(z)
        z = F.interpolate(z, scale_factor=2, mode="nearest")
        return self.refine(z)


def dynamic() -> nn.Module:
    return Dynamic()


# --------------------------------------------------------------------------------------------------
# assorted ops: pads, dilated and ceil-mode pools, slicing, pixel shuffles, resampling, other norms
# --------------------------------------------------------------------------------------------------


class Assorted(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding="same")
        self.gn = nn.GroupNorm(4, 16)
        self.pad = nn.ZeroPad2d((1, 2, 0, 1))
        self.conv2 = nn.Conv2d(16, 16, (3, 5), stride=(1, 2), padding="valid", padding_mode="zeros")
        self.pool1 = nn.MaxPool2d(3, 2, padding=1, dilation=2, ceil_mode=True)
        self.pool2 = nn.AvgPool2d(3, 2, padding=1, ceil_mode=True)
        self.branch = nn.Conv2d(8, 8, 1)
        self.shuffle_down = nn.PixelUnshuffle(2)
        self.mid = nn.Conv2d(64, 64, 1)  # mixes each 2x2 patch (rfdesign's model of space_to_depth assumes it)
        self.shuffle_up = nn.PixelShuffle(2)
        self.norm_last = nn.LayerNorm(16)
        self.mix = nn.Linear(16, 12)
        self.inorm = nn.InstanceNorm2d(12, affine=True)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.adapt = nn.AdaptiveMaxPool2d((2, None))
        self.reflect = nn.ReflectionPad2d(1)
        self.conv3 = nn.Conv2d(12, 6, 3, dilation=(1, 2), bias=False)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.gn(self.conv1(x))
        x = self.conv2(self.pad(x))
        x = self.pool2(self.pool1(x))
        a, b = x.chunk(2, dim=1)
        x = torch.cat([self.branch(a), b[:, 2:], b[:, :2]], 1)
        x = self.shuffle_up(self.mid(self.shuffle_down(x)))
        x = self.norm_last(x.permute(0, 2, 3, 1))
        x = self.mix(x).permute(0, 3, 1, 2)
        x = self.inorm(x)
        x = F.interpolate(self.up(x), scale_factor=2)
        x = x[:, :, 1:, ::2]  # crop one row, keep every second column
        x = F.pad(x, (0, 1, -1, 0))  # pad a column, crop a row
        x = self.adapt(x)
        return self.act(self.conv3(self.reflect(x)))


def assorted() -> nn.Module:
    return Assorted()


# --------------------------------------------------------------------------------------------------
# refused: attention on feature maps
# --------------------------------------------------------------------------------------------------


class Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        q = x.flatten(2)
        attn = torch.softmax(q.transpose(1, 2) @ q, dim=-1)
        return (q @ attn).view_as(x)


def attention() -> nn.Module:
    return Attention()


def not_a_module() -> int:
    return 3


class Warp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grid = torch.zeros(1, x.shape[2], x.shape[3], 2)
        return F.grid_sample(self.conv(x), grid, align_corners=False)


def warp() -> nn.Module:
    return Warp()


def adaptive() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(3))

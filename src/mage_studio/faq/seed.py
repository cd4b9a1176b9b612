"""The FAQ entries a new installation starts with; existing slugs are left alone."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.faq.models import FaqQuestion

ENTRIES: tuple[tuple[str, str, str], ...] = (
    (
        "what-are-gpu-credits",
        "What are GPU credits and how are they charged?",
        "Renders are paid with GPU credits. When a render is queued, its estimated "
        "cost (frames times the model's per-frame rate) is reserved from your "
        "credits. When it finishes, only the frames actually rendered are charged "
        "and the rest of the reservation is released. A render cancelled before it "
        "starts, or one that fails, costs nothing. You can buy credit packs in the "
        "shop; your balance and every charge are listed under Credits.",
    ),
    (
        "how-do-previews-work",
        "How do previews work?",
        "After uploading, choose vid2vid or Deforum, set your prompt and parameters "
        "and generate a preview: from 1 to 20 frames rendered with the exact seed "
        "and settings of the full render. A one-frame preview goes to the fastest "
        "queue. When you like the result, finalize it to render the whole video; "
        "credits for the full render are reserved at that moment.",
    ),
    (
        "how-long-does-a-render-take",
        "How long does a render take?",
        "It depends on the number of frames (length times frame rate), the "
        "resolution, the model and how many renders are ahead of yours. The status "
        "page shows your position in the queue and an estimate of when your render "
        "starts and finishes, based on how fast recent renders of the same kind ran. "
        "You can cancel a queued or running render at any time.",
    ),
    (
        "which-formats-are-supported",
        "Which file formats can I upload, and what do I get back?",
        "Videos in MP4, MOV, WebM, MKV or Ogg, images in PNG, JPEG or WebP, and "
        "animated GIFs, up to 500 MB by default. A soundtrack may be MP3, AAC, M4A "
        "or WAV, up to 50 MB, and can also be added after the render. Finished "
        "renders are H.264 MP4 files that play in every browser.",
    ),
    (
        "can-i-extend-a-deforum-animation",
        "Can I make a Deforum animation longer?",
        "Yes. Start a new Deforum render from one of your finished Deforum "
        "animations: it continues from the exact last frame with the same model, "
        "frame rate, size and settings, and you may change the prompt, length and "
        "seed. The new segment is joined to the original video.",
    ),
)


async def seed(session: AsyncSession, settings: Settings) -> None:
    """Insert the starter FAQ entries whose slugs do not exist yet."""
    existing = set(await session.scalars(select(FaqQuestion.slug)))
    for position, (slug, question, answer) in enumerate(ENTRIES, start=1):
        if slug in existing:
            continue
        session.add(
            FaqQuestion(
                slug=slug, question=question, answer=answer, position=position * 10
            )
        )
    await session.flush()

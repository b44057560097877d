<#-- The code form of the Passcode authenticators (Keycloak login theme, FreeMarker). -->
<#import "template.ftl" as layout>
<@layout.registrationLayout displayMessage=true; section>
    <#if section = "header">
        ${msg("passcodeTitle")}
    <#elseif section = "form">
        <#if !(passcodeLocked!false)>
        <form id="kc-passcode-form" action="${url.loginAction}" method="post">
            <p>${msg(passcodeChannel == "sms"?then("passcodeSentSms", "passcodeSentEmail"))}</p>
            <label for="code">${msg("passcodeCodeLabel")}</label>
            <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"
                   pattern="[0-9 -]*" maxlength="${passcodeCodeLength + 4}" autofocus required>
            <button type="submit">${msg("doSubmit")}</button>
        </form>
        <form id="kc-passcode-resend" action="${url.loginAction}" method="post">
            <button type="submit" name="resend" value="true" <#if (passcodeResendIn > 0)>disabled</#if>>
                ${msg("passcodeResend")}<#if (passcodeResendIn > 0)> (${passcodeResendIn}s)</#if>
            </button>
        </form>
        </#if>
    </#if>
</@layout.registrationLayout>
